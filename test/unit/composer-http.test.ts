import t, { type Test } from 'tap'
import Database from 'better-sqlite3'
import { createHash, randomBytes } from 'node:crypto'
import { readdirSync, statSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { basic, buildTestApp, runCli, tempDir, writePackageZip, type TestApp } from '../helpers/harness.js'
import type { ConfigInput } from '../../src/config.js'
import { expand } from '../helpers/util.js'

type Json = Record<string, any>
type Headers = Record<string, string>
type Tap = Test

interface Pair { publicKey: string, privateKey: string }

/** composer.json of every version published by seed(), keyed by package then version. */
const WIDGET: Record<string, Json> = {
  '1.0.0': {
    description: 'A widget',
    type: 'magento2-module',
    require: { php: '>=8.1' },
    autoload: { files: ['registration.php'], 'psr-4': { 'Acme\\Widget\\': '' } },
    extra: { 'magento-force': 'override' }
  },
  '2.4.6-p3': {
    description: 'A widget',
    type: 'magento2-module',
    require: { php: '>=8.2', 'acme/secret': '^1.0' },
    autoload: { files: ['registration.php'], 'psr-4': { 'Acme\\Widget\\': '' } }
  },
  '1.1.0': {
    description: 'A widget, now better',
    type: 'magento2-module',
    require: { php: '>=8.1' },
    autoload: { files: ['registration.php'], 'psr-4': { 'Acme\\Widget\\': '' } }
  },
  '2.0.0-beta1': {
    description: 'A widget',
    type: 'library',
    require: { php: '>=8.2' },
    autoload: { 'psr-4': { 'Acme\\Widget\\': 'src/' } },
    bin: ['bin/widget']
  },
  'dev-main': {
    description: 'A widget (development)',
    type: 'magento2-module',
    autoload: { 'psr-4': { 'Acme\\Widget\\': '' } },
    extra: { 'branch-alias': { 'dev-main': '3.0.x-dev' } }
  },
  '1.x-dev': {
    description: 'A widget (1.x branch)',
    type: 'magento2-module',
    autoload: { 'psr-4': { 'Acme\\Widget\\': '' } }
  }
}

const NORMALIZED: Record<string, string> = {
  '1.0.0': '1.0.0.0',
  '1.1.0': '1.1.0.0',
  '2.4.6-p3': '2.4.6.0-patch3',
  '2.0.0-beta1': '2.0.0.0-beta1',
  'dev-main': 'dev-main',
  '1.x-dev': '1.9999999.9999999.9999999-dev'
}

interface Seeded extends TestApp {
  work: string
  alice: Pair & { accountId: number, keyId: number }
  bob: Pair & { accountId: number, keyId: number }
  /** Zip file per "name@version", to compare bytes with what is served. */
  zips: Map<string, string>
}

async function newKey (app: FastifyInstance, username: string, keyName = 'laptop') {
  const account = await app.ctx.accounts.create({ username })
  const issued = app.ctx.keys.create(account.id, keyName)
  return { accountId: account.id, keyId: issued.key.id, publicKey: issued.key.publicKey, privateKey: issued.privateKey }
}

async function publish (s: { app: FastifyInstance, work: string, zips: Map<string, string> }, name: string, version: string, extra: Json = {}, access?: 'public' | 'restricted') {
  const file = await writePackageZip(s.work, { name, version, ...extra }, { files: { 'registration.php': `<?php // ${name} ${version}` } })
  s.zips.set(`${name}@${version}`, file)
  return await s.app.ctx.catalog.publish(file, access === undefined ? {} : { access })
}

/**
 * alice holds a grant for the restricted acme/secret; bob holds none. acme/widget is
 * public with stable and dev versions; acme/hidden is restricted and granted to nobody.
 */
async function seed (t: Tap, overrides: ConfigInput = {}): Promise<Seeded> {
  const base = await buildTestApp(t, overrides)
  const s = { ...base, work: tempDir(t), zips: new Map<string, string>() }
  const alice = await newKey(base.app, 'alice')
  const bob = await newKey(base.app, 'bob')
  for (const [version, manifest] of Object.entries(WIDGET)) await publish(s, 'acme/widget', version, manifest, 'public')
  await publish(s, 'acme/secret', '1.0.0', { description: 'Secret sauce' })
  await publish(s, 'acme/hidden', '3.0.0', { description: 'Nobody may see this' })
  base.app.ctx.catalog.grant(alice.accountId, 'acme/secret')
  return { ...s, alice, bob }
}

const auth = (p: Pair): Headers => basic(p.publicKey, p.privateKey)

function parse (res: LightMyRequestResponse): Json {
  return JSON.parse(res.body) as Json
}

function assert401 (t: Tap, res: LightMyRequestResponse, what: string): void {
  t.equal(res.statusCode, 401, `${what}: status`)
  t.match(res.headers['www-authenticate'], /^Basic realm="Packyard"/, `${what}: WWW-Authenticate`)
  t.equal(res.headers['content-type'], 'application/json', `${what}: content-type exactly application/json`)
  const body = parse(res)
  t.type(body.warning, 'string', `${what}: warning`)
  t.ok(body.warning.length > 20, `${what}: warning is a sentence`)
  t.notMatch(res.body, /at .*\.(js|ts):\d+/, `${what}: no stack trace`)
}

interface Probe { what: string, method: 'GET' | 'POST', url: string, payload?: string, headers?: Headers }

const PROBES: Probe[] = [
  { what: 'packages.json', method: 'GET', url: '/packages.json' },
  { what: 'p2', method: 'GET', url: '/p2/acme/widget.json' },
  { what: 'p2 ~dev', method: 'GET', url: '/p2/acme/widget~dev.json' },
  { what: 'archive', method: 'GET', url: '/archives/acme/widget/acme-widget-1.0.0.0.zip' },
  {
    what: 'notify-batch',
    method: 'POST',
    url: '/downloads/',
    payload: JSON.stringify({ downloads: [{ name: 'acme/widget', version: '1.0.0.0' }] }),
    headers: { 'content-type': 'application/json' }
  },
  { what: 'search', method: 'GET', url: '/search.json?q=widget&type=' }
]

function request (app: FastifyInstance, probe: Probe, headers: Headers, remoteAddress?: string) {
  return app.inject({
    method: probe.method,
    url: probe.url,
    remoteAddress,
    headers: { ...probe.headers, ...headers },
    ...(probe.payload === undefined ? {} : { payload: probe.payload })
  })
}

/** A read-only connection of the test's own, to look at rows the app wrote. */
function readDb<T> (app: FastifyInstance, read: (db: Database.Database) => T): T {
  const db = new Database(app.ctx.config.dbPath, { readonly: true })
  try { return read(db) } finally { db.close() }
}

function downloadsOf (app: FastifyInstance, name: string, normalized: string): number {
  const row = readDb(app, (db) => db.prepare(
    'SELECT v.downloads AS n FROM versions v JOIN packages p ON p.id = v.package_id WHERE p.name = ? AND v.version_normalized = ?'
  ).get(name, normalized)) as { n: number } | undefined
  if (row === undefined) throw new Error(`no version ${name} ${normalized}`)
  return row.n
}

function lastUsedInDb (app: FastifyInstance, keyId: number): string | null {
  return (readDb(app, (db) => db.prepare('SELECT last_used_at AS at FROM access_keys WHERE id = ?').get(keyId)) as { at: string | null }).at
}

function filesUnder (dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => statSync(path.join(dir, f)).isFile())
    .sort()
}

t.test('A. authentication on every repository URL', async (t) => {
  t.test('/healthz answers without credentials', async (t) => {
    const { app } = await buildTestApp(t)
    const res = await app.inject({ url: '/healthz' })
    t.equal(res.statusCode, 200)
    t.same(parse(res), { status: 'ok', upstreams: [] })
  })

  t.test('bad or missing credentials get 401 with a warning Composer prints', async (t) => {
    const s = await seed(t)
    const { app } = s
    const regenerated = await newKey(app, 'carol', 'ci')
    app.ctx.keys.regenerate(regenerated.publicKey)
    const disabled = await newKey(app, 'dave', 'ci')
    app.ctx.keys.setEnabled(disabled.publicKey, false)
    const deleted = await newKey(app, 'erin', 'ci')
    app.ctx.keys.delete(deleted.publicKey)
    const b64 = (s: string): string => Buffer.from(s).toString('base64')
    const a = s.alice

    const cases: Array<[string, Headers]> = [
      ['no Authorization header', {}],
      ['empty Authorization header', { authorization: '' }],
      ['scheme only', { authorization: 'Basic' }],
      ['empty credentials', { authorization: 'Basic ' }],
      ['no colon in decoded value', { authorization: `Basic ${b64(a.publicKey + a.privateKey)}` }],
      ['bad base64', { authorization: 'Basic !!!not*base64!!!' }],
      ['base64 of binary garbage', { authorization: `Basic ${Buffer.from([0xff, 0x00, 0x3a, 0x01, 0xfe]).toString('base64')}` }],
      ['control characters', { authorization: `Basic ${b64(`${a.publicKey}:\n${a.privateKey}`)}` }],
      ['wrong scheme (Bearer)', { authorization: `Bearer ${a.privateKey}` }],
      ['wrong scheme (Digest)', { authorization: `Digest username="${a.publicKey}"` }],
      ['oversized ~8 KB password', { authorization: `Basic ${b64(`${a.publicKey}:${'f'.repeat(8000)}`)}` }],
      ['oversized ~8 KB username', { authorization: `Basic ${b64(`${'a'.repeat(8000)}:${a.privateKey}`)}` }],
      ['empty user and password', basic('', '')],
      ['swapped pair', basic(a.privateKey, a.publicKey)],
      ['upper-case public key', basic(a.publicKey.toUpperCase(), a.privateKey)],
      ['wrong private key', basic(a.publicKey, randomBytes(16).toString('hex'))],
      ['private key of another key', basic(a.publicKey, s.bob.privateKey)],
      ['unknown public key', basic(randomBytes(16).toString('hex'), a.privateKey)],
      ['disabled key', auth(disabled)],
      ['regenerated-away key (old pair)', auth(regenerated)],
      ['deleted key', auth(deleted)]
    ]
    const downloadsBefore = downloadsOf(app, 'acme/widget', '1.0.0.0')
    // Each probe from its own address: this many failures from one address would (rightly)
    // meet the key throttle, which speed.test.ts covers.
    for (const [i, probe] of PROBES.entries()) {
      for (const [what, headers] of cases) {
        const res = await request(app, probe, headers, `192.0.2.${i + 1}`)
        assert401(t, res, `${probe.what}, ${what}`)
      }
    }
    for (const probe of PROBES.filter((p) => p.method === 'GET')) {
      const head = await app.inject({ method: 'HEAD', url: probe.url })
      t.equal(head.statusCode, 401, `HEAD ${probe.what}: 401 too`)
      t.match(head.headers['www-authenticate'], /^Basic realm="Packyard"/)
    }
    t.equal(downloadsOf(app, 'acme/widget', '1.0.0.0'), downloadsBefore, 'rejected notify-batch POSTs counted nothing')
    t.equal(lastUsedInDb(app, disabled.keyId), null, 'a rejected key is not marked as used')
    t.equal(lastUsedInDb(app, regenerated.keyId), null, 'the old pair of a regenerated key does not mark it as used')

    const reasons = await Promise.all([
      request(app, PROBES[0]!, {}),
      request(app, PROBES[0]!, basic(a.publicKey, 'short')),
      request(app, PROBES[0]!, auth(disabled))
    ])
    t.match(parse(reasons[0]!).warning, /auth\.json/, 'missing credentials: says where keys go')
    t.match(parse(reasons[1]!).warning, /32 characters/, 'malformed key: says what a key looks like')
    t.match(parse(reasons[2]!).warning, /disabled/, 'disabled key: says it is disabled')

    for (const probe of PROBES) {
      const res = await request(app, probe, auth(a))
      t.equal(res.statusCode, 200, `${probe.what}: a valid key is accepted`)
    }
    t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'still serving')
  })

  t.test('the private key is never echoed in responses or the log', async (t) => {
    const s = await seed(t)
    const wrong = randomBytes(16).toString('hex')
    const res = await s.app.inject({ url: '/packages.json', headers: basic(s.alice.publicKey, wrong) })
    t.equal(res.statusCode, 401)
    t.notMatch(res.body, wrong)
    const ok = await s.app.inject({ url: '/packages.json', headers: auth(s.alice) })
    t.equal(ok.statusCode, 200)
    t.notMatch(s.log(), s.alice.privateKey)
    t.notMatch(s.log(), wrong)
  })

  t.test('a key change takes effect on the very next request', async (t) => {
    const s = await seed(t)
    const { app, alice } = s
    const get = (p: Pair) => app.inject({ url: '/p2/acme/secret.json', headers: auth(p) })
    t.equal((await get(alice)).statusCode, 200, 'enabled key')

    app.ctx.keys.setEnabled(alice.publicKey, false)
    assert401(t, await get(alice), 'right after disable')
    app.ctx.keys.setEnabled(alice.publicKey, true)
    t.equal((await get(alice)).statusCode, 200, 'right after enable')

    const renamed = app.ctx.keys.rename(alice.publicKey, 'renamed laptop')
    t.equal(renamed.name, 'renamed laptop')
    t.equal((await get(alice)).statusCode, 200, 'renaming does not change the pair')

    const issued = app.ctx.keys.regenerate(alice.publicKey)
    const fresh = { publicKey: issued.key.publicKey, privateKey: issued.privateKey }
    t.not(fresh.publicKey, alice.publicKey)
    t.not(fresh.privateKey, alice.privateKey)
    assert401(t, await get(alice), 'old pair right after regenerate')
    assert401(t, await app.inject({ url: '/p2/acme/secret.json', headers: basic(fresh.publicKey, alice.privateKey) }), 'new public key with old private key')
    t.equal((await get(fresh)).statusCode, 200, 'new pair works at once, grants kept')

    app.ctx.keys.delete(fresh.publicKey)
    assert401(t, await get(fresh), 'right after delete')
    t.equal((await get(s.bob)).statusCode, 404, 'other keys are unaffected (bob has no grant: 404)')
    t.equal((await app.inject({ url: '/p2/acme/widget.json', headers: auth(s.bob) })).statusCode, 200)
  })

  t.test('a key disabled by the CLI (another process) is refused on the next request', async (t) => {
    const s = await seed(t)
    const get = () => s.app.inject({ url: '/packages.json', headers: auth(s.alice) })
    t.equal((await get()).statusCode, 200)
    const disabled = await runCli(s.dataDir, ['--json', 'key', 'disable', s.alice.publicKey])
    t.equal(disabled.code, 0, disabled.stderr)
    assert401(t, await get(), 'after packyard key disable')
    const enabled = await runCli(s.dataDir, ['--json', 'key', 'enable', s.alice.publicKey])
    t.equal(enabled.code, 0, enabled.stderr)
    t.equal((await get()).statusCode, 200, 'after packyard key enable')
  })

  t.test('last_used_at is written after use when flushing at once', async (t) => {
    const s = await seed(t)
    t.equal(s.config.lastUsedFlushMs, 0)
    t.equal(lastUsedInDb(s.app, s.alice.keyId), null, 'never used yet')
    const before = new Date().toISOString()
    t.equal((await s.app.inject({ url: '/packages.json', headers: auth(s.alice) })).statusCode, 200)
    const after = new Date().toISOString()
    const at = lastUsedInDb(s.app, s.alice.keyId)
    t.type(at, 'string')
    t.ok(at! >= before && at! <= after, `last_used_at ${at} within the request`)
    t.equal(lastUsedInDb(s.app, s.bob.keyId), null, 'an unused key stays unused')
    t.equal(s.app.ctx.keys.list(s.alice.accountId)[0]!.lastUsedAt, at)
  })

  t.test('last_used_at is batched: not written until flush or close', async (t) => {
    const s = await seed(t, { lastUsedFlushMs: 3_600_000 })
    t.equal((await s.app.inject({ url: '/packages.json', headers: auth(s.alice) })).statusCode, 200)
    t.equal(lastUsedInDb(s.app, s.alice.keyId), null, 'no write on the request path')
    const pending = s.app.ctx.keys.list(s.alice.accountId)[0]!.lastUsedAt
    t.type(pending, 'string', 'key list already shows the pending time')
    s.app.ctx.keys.flushUsage()
    t.equal(lastUsedInDb(s.app, s.alice.keyId), pending, 'flush writes it')

    t.equal((await s.app.inject({ url: '/packages.json', headers: auth(s.bob) })).statusCode, 200)
    t.equal(lastUsedInDb(s.app, s.bob.keyId), null)
    const dbPath = s.config.dbPath
    await s.app.close()
    const { default: Database } = await import('better-sqlite3')
    const db = new Database(dbPath, { readonly: true })
    t.teardown(() => db.close())
    const row = db.prepare('SELECT last_used_at AS at FROM access_keys WHERE id = ?').get(s.bob.keyId) as { at: string | null }
    t.type(row.at, 'string', 'close flushes pending times')
  })
})

t.test('B. Composer protocol', async (t) => {
  t.test('packages.json lists exactly what the account may install', async (t) => {
    const s = await seed(t)
    const res = await s.app.inject({ url: '/packages.json', headers: auth(s.alice) })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-type'], 'application/json')
    const root = parse(res)
    t.same(root.packages, {})
    t.equal(root['metadata-url'], 'http://localhost:80/p2/%package%.json')
    t.equal(root['notify-batch'], 'http://localhost:80/downloads/')
    t.equal(root.search, 'http://localhost:80/search.json?q=%query%&type=%type%')
    t.same(root['available-packages'], ['acme/secret', 'acme/widget'], 'public plus grants, not acme/hidden')
    t.notOk('available-package-patterns' in root)

    const bob = parse(await s.app.inject({ url: '/packages.json', headers: auth(s.bob) }))
    t.same(bob['available-packages'], ['acme/widget'], 'bob: only the public package')

    s.app.ctx.catalog.grant(s.bob.accountId, 'acme/hidden')
    const granted = parse(await s.app.inject({ url: '/packages.json', headers: auth(s.bob) }))
    t.same(granted['available-packages'], ['acme/hidden', 'acme/widget'], 'a grant shows up on the next request')
    s.app.ctx.catalog.revoke(s.bob.accountId, 'acme/hidden')
    const revoked = parse(await s.app.inject({ url: '/packages.json', headers: auth(s.bob) }))
    t.same(revoked['available-packages'], ['acme/widget'], 'a revoke too')
  })

  t.test('an account that may install nothing gets a never-matching pattern', async (t) => {
    const { app } = await buildTestApp(t)
    const work = tempDir(t)
    const carol = await newKey(app, 'carol')
    const empty = parse(await app.inject({ url: '/packages.json', headers: auth(carol) }))
    t.same(empty['available-package-patterns'], ['-/-'])
    t.notOk('available-packages' in empty, 'no empty available-packages (Composer would query every name)')

    await app.ctx.catalog.publish(await writePackageZip(work, { name: 'acme/locked', version: '1.0.0' }))
    const still = parse(await app.inject({ url: '/packages.json', headers: auth(carol) }))
    t.same(still['available-package-patterns'], ['-/-'], 'a restricted package without grant changes nothing')
    t.notOk('available-packages' in still)
  })

  t.test('absolute URLs follow the configured public URL, prefix included', async (t) => {
    const s = await seed(t, { publicUrl: 'https://packages.example.test/repo/' })
    const root = parse(await s.app.inject({ url: '/packages.json', headers: auth(s.alice) }))
    t.equal(root['metadata-url'], 'https://packages.example.test/repo/p2/%package%.json')
    t.equal(root['notify-batch'], 'https://packages.example.test/repo/downloads/')
    t.equal(root.search, 'https://packages.example.test/repo/search.json?q=%query%&type=%type%')
    const p2 = parse(await s.app.inject({ url: '/p2/acme/widget.json', headers: auth(s.alice) }))
    for (const v of expand(p2.packages['acme/widget'])) {
      t.match(v.dist.url, /^https:\/\/packages\.example\.test\/repo\/archives\/acme\/widget\/acme-widget-[^/]+\.zip$/)
    }
  })

  t.test('p2 metadata: minified composer/2.0, complete versions, stable and dev split', async (t) => {
    const s = await seed(t)
    const res = await s.app.inject({ url: '/p2/acme/widget.json', headers: auth(s.bob) })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-type'], 'application/json')
    const doc = parse(res)
    t.equal(doc.minified, 'composer/2.0')
    t.same(Object.keys(doc.packages), ['acme/widget'], 'packages keyed by the exact lowercase name')
    t.ok(Array.isArray(doc.packages['acme/widget']))
    const stable = expand(doc.packages['acme/widget'])
    t.same(stable.map((v) => v.version), ['2.4.6-p3', '2.0.0-beta1', '1.1.0', '1.0.0'], 'tags only, newest first')

    const dev = expand(parse(await s.app.inject({ url: '/p2/acme/widget~dev.json', headers: auth(s.bob) })).packages['acme/widget'])
    t.same(dev.map((v) => v.version).sort(), ['1.x-dev', 'dev-main'], 'dev versions only in ~dev')

    for (const v of [...stable, ...dev]) {
      const manifest = WIDGET[v.version]!
      t.equal(v.name, 'acme/widget', `${v.version}: name`)
      t.equal(v.version_normalized, NORMALIZED[v.version], `${v.version}: version_normalized`)
      for (const field of ['description', 'type', 'require', 'autoload', 'extra', 'bin']) {
        t.same(v[field], manifest[field], `${v.version}: ${field} taken faithfully from composer.json`)
      }
      t.notOk(Object.values(v).includes('__unset'), `${v.version}: fully expanded`)
      t.notOk(Object.values(v).includes(null), `${v.version}: no top-level null`)
      t.type(v.time, 'string')
      t.ok(Number.isFinite(Date.parse(v.time)), `${v.version}: time parses`)
      t.equal(v.dist.type, 'zip')
      t.match(v.dist.shasum, /^[0-9a-f]{40}$/)
      t.equal(v.dist.url, `http://localhost:80/archives/acme/widget/acme-widget-${NORMALIZED[v.version]}.zip`, `${v.version}: absolute dist url`)

      const zip = await s.app.inject({ url: new URL(v.dist.url).pathname, headers: auth(s.bob) })
      t.equal(zip.statusCode, 200, `${v.version}: dist downloads`)
      t.equal(zip.headers['content-type'], 'application/zip')
      const bytes = zip.rawPayload
      t.equal(createHash('sha1').update(bytes).digest('hex'), v.dist.shasum, `${v.version}: SHA-1 of served bytes = dist.shasum`)
      const original = s.zips.get(`acme/widget@${v.version}`)!
      t.equal(Number(zip.headers['content-length']), statSync(original).size, `${v.version}: Content-Length = archive size`)
      t.equal(bytes.length, statSync(original).size)
    }
  })

  t.test('p2 minification is what Composer expands: the first entry complete, then diffs', async (t) => {
    const s = await seed(t)
    const list = parse(await s.app.inject({ url: '/p2/acme/widget.json', headers: auth(s.alice) })).packages['acme/widget'] as Json[]
    t.equal(list[0]!.name, 'acme/widget', 'first entry is complete')
    for (const entry of list.slice(1)) t.notOk('name' in entry, 'unchanged keys are left out of later entries')
    // 1.1.0 (no extra) follows 2.0.0-beta1 (no extra) and precedes 1.0.0 (extra): check both directions.
    t.notOk('extra' in list[2]!, 'absent in both: not mentioned')
    t.same(list[3]!.extra, { 'magento-force': 'override' }, 'added back: full value')
    t.same(list[1]!.bin, ['bin/widget'], 'a new key: full value')
    t.equal(list[2]!.bin, '__unset', 'a removed key is "__unset"')
    t.same(list[1]!.autoload, { 'psr-4': { 'Acme\\Widget\\': 'src/' } }, 'a changed object is replaced wholesale')
  })

  t.test('Last-Modified and If-Modified-Since', async (t) => {
    const s = await seed(t)
    const url = '/p2/acme/widget.json'
    const first = await s.app.inject({ url, headers: auth(s.alice) })
    const lastModified = first.headers['last-modified'] as string
    t.type(lastModified, 'string')
    t.equal(new Date(Date.parse(lastModified)).toUTCString(), lastModified, 'an HTTP date')

    const same = await s.app.inject({ url, headers: { ...auth(s.alice), 'if-modified-since': lastModified } })
    t.equal(same.statusCode, 304)
    t.equal(same.body, '', '304 has an empty body')
    t.equal(same.headers['last-modified'], lastModified)

    const older = new Date(Date.parse(lastModified) - 60_000).toUTCString()
    const stale = await s.app.inject({ url, headers: { ...auth(s.alice), 'if-modified-since': older } })
    t.equal(stale.statusCode, 200)
    t.same(parse(stale), parse(first))
    const garbage = await s.app.inject({ url, headers: { ...auth(s.alice), 'if-modified-since': 'not a date' } })
    t.equal(garbage.statusCode, 200, 'an unparseable If-Modified-Since gets the document')

    // Publish within the same second as the previous change: Last-Modified must still move.
    await publish(s, 'acme/widget', '1.2.0', WIDGET['1.1.0']!)
    const after = await s.app.inject({ url, headers: { ...auth(s.alice), 'if-modified-since': lastModified } })
    t.equal(after.statusCode, 200, 'the old If-Modified-Since no longer yields 304')
    const newLastModified = after.headers['last-modified'] as string
    t.ok(Date.parse(newLastModified) > Date.parse(lastModified), 'Last-Modified moved forward')
    t.ok(expand(parse(after).packages['acme/widget']).some((v) => v.version === '1.2.0'), 'the new version is listed')
    t.equal((await s.app.inject({ url, headers: { ...auth(s.alice), 'if-modified-since': newLastModified } })).statusCode, 304)

    // An access change also bumps it, so no client keeps a stale 304.
    s.app.ctx.catalog.setAccess('acme/widget', 'restricted')
    s.app.ctx.catalog.grant(s.alice.accountId, 'acme/widget')
    const afterAccess = await s.app.inject({ url, headers: { ...auth(s.alice), 'if-modified-since': newLastModified } })
    t.equal(afterAccess.statusCode, 200)

    const root = await s.app.inject({ url: '/packages.json', headers: auth(s.alice) })
    t.equal(root.statusCode, 200)
  })

  t.test('p2 of a package the account cannot see, or that does not exist, is 404', async (t) => {
    const s = await seed(t)
    const cases: Array<[string, Pair]> = [
      ['/p2/acme/hidden.json', s.alice],
      ['/p2/acme/hidden~dev.json', s.alice],
      ['/p2/acme/secret.json', s.bob],
      ['/p2/acme/secret~dev.json', s.bob],
      ['/p2/acme/nothing.json', s.alice],
      ['/p2/nobody/nothing~dev.json', s.alice],
      ['/p2/acme/secret~dev.json', s.alice],
      ['/p2/Acme/Widget.json', s.alice],
      ['/p2/acme/widget', s.alice],
      ['/p2/acme/widget.txt', s.alice],
      ['/p2/acme.json', s.alice]
    ]
    for (const [url, who] of cases) {
      const res = await s.app.inject({ url, headers: auth(who) })
      t.equal(res.statusCode, 404, url)
      t.equal(res.headers['content-type'], 'application/json', `${url}: content-type`)
      t.notMatch(res.body, /Nobody may see this|Secret sauce/, `${url}: leaks nothing`)
    }
    t.equal((await s.app.inject({ url: '/p2/acme/secret.json', headers: auth(s.alice) })).statusCode, 200, 'granted: 200')
    s.app.ctx.catalog.revoke(s.alice.accountId, 'acme/secret')
    t.equal((await s.app.inject({ url: '/p2/acme/secret.json', headers: auth(s.alice) })).statusCode, 404, 'revoked: 404 at once')
  })

  t.test('restricted archives: 403 without a grant, 200 with one', async (t) => {
    const s = await seed(t)
    const url = '/archives/acme/secret/acme-secret-1.0.0.0.zip'
    const denied = await s.app.inject({ url, headers: auth(s.bob) })
    t.equal(denied.statusCode, 403)
    t.equal(denied.headers['content-type'], 'application/json')
    const body = parse(denied)
    t.match(body.warning, /acme\/secret/, 'the warning names the package')
    t.equal(body.code, 'FORBIDDEN')

    const ok = await s.app.inject({ url, headers: auth(s.alice) })
    t.equal(ok.statusCode, 200)
    t.equal(ok.headers['content-type'], 'application/zip')
    t.equal(ok.rawPayload.length, statSync(s.zips.get('acme/secret@1.0.0')!).size)

    s.app.ctx.catalog.grant(s.bob.accountId, 'acme/secret')
    t.equal((await s.app.inject({ url, headers: auth(s.bob) })).statusCode, 200, 'a new grant opens it at once')

    for (const missing of ['/archives/acme/secret/acme-secret-9.9.9.0.zip', '/archives/acme/nothing/acme-nothing-1.0.0.0.zip', '/archives/acme/secret/acme-secret-1.0.0.0.tar']) {
      const res = await s.app.inject({ url: missing, headers: auth(s.alice) })
      t.equal(res.statusCode, 404, missing)
      t.equal(res.headers['content-type'], 'application/json')
    }
  })

  t.test('POST /downloads/ counts installs of visible versions', async (t) => {
    const s = await seed(t)
    const post = (who: Pair, payload: string, contentType = 'application/json') =>
      s.app.inject({ method: 'POST', url: '/downloads/', headers: { ...auth(who), 'content-type': contentType }, payload })
    const res = await post(s.alice, JSON.stringify({
      downloads: [
        { name: 'acme/widget', version: '2.4.6.0-patch3' },
        { name: 'acme/widget', version: '2.4.6.0-patch3' },
        { name: 'Acme/Secret', version: '1.0.0.0' },
        { name: 'acme/hidden', version: '3.0.0.0' },
        { name: 'acme/widget', version: '9.9.9.9' },
        { name: 'acme/nothing', version: '1.0.0.0' }
      ]
    }))
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-type'], 'application/json')
    t.same(parse(res), { status: 'success' })
    t.equal(downloadsOf(s.app, 'acme/widget', '2.4.6.0-patch3'), 2)
    t.equal(downloadsOf(s.app, 'acme/secret', '1.0.0.0'), 1, 'pretty name in another case still counts')
    t.equal(downloadsOf(s.app, 'acme/hidden', '3.0.0.0'), 0, 'a package the account cannot see is not counted')
    t.equal(downloadsOf(s.app, 'acme/widget', '1.0.0.0'), 0)

    const bad: Array<[string, string, RegExp]> = [
      ['invalid JSON', '{"downloads": [', /JSON/],
      ['not JSON at all', 'not json', /JSON/],
      ['downloads is an object', JSON.stringify({ downloads: { name: 'acme/widget', version: '1.0.0.0' } }), /downloads/],
      ['downloads is a string', JSON.stringify({ downloads: 'acme/widget' }), /downloads/],
      ['body is an array', JSON.stringify([{ name: 'acme/widget', version: '1.0.0.0' }]), /downloads/],
      ['body is null', 'null', /downloads/],
      ['no downloads key', '{}', /downloads/],
      ['entry without a version', JSON.stringify({ downloads: [{ name: 'acme/widget', version: '1.0.0.0' }, { name: 'acme/widget' }] }), /version/],
      ['entry with a numeric version', JSON.stringify({ downloads: [{ name: 'acme/widget', version: 1 }] }), /version/]
    ]
    for (const [what, payload, message] of bad) {
      const r = await post(s.alice, payload)
      t.equal(r.statusCode, 400, `${what}: 400`)
      t.equal(r.headers['content-type'], 'application/json', `${what}: content-type`)
      t.match(parse(r).message, message, `${what}: a clear message`)
      t.notMatch(r.body, /at .*\.(js|ts):\d+/, `${what}: no stack trace`)
    }
    t.equal(downloadsOf(s.app, 'acme/widget', '1.0.0.0'), 0, 'a rejected batch counts nothing, not even its valid entries')
    t.equal(downloadsOf(s.app, 'acme/widget', '2.4.6.0-patch3'), 2)
    t.equal((await s.app.inject({ url: '/healthz' })).statusCode, 200)
  })

  t.test('search.json only finds packages the account may see', async (t) => {
    const s = await seed(t)
    const search = async (who: Pair, q: string, type = '') => {
      const res = await s.app.inject({ url: `/search.json?q=${encodeURIComponent(q)}&type=${type}`, headers: auth(who) })
      t.equal(res.statusCode, 200)
      t.equal(res.headers['content-type'], 'application/json')
      return parse(res)
    }
    const alice = await search(s.alice, 'acme')
    t.same(alice.results.map((r: Json) => r.name), ['acme/secret', 'acme/widget'])
    t.equal(alice.total, 2)
    for (const r of alice.results) {
      t.type(r.description, 'string')
      t.match(r.url, /^http:\/\/localhost:80\//)
      t.type(r.downloads, 'number')
      t.equal(r.abandoned, false)
    }
    t.same((await search(s.bob, 'acme')).results.map((r: Json) => r.name), ['acme/widget'])
    t.same((await search(s.bob, 'sauce')).results, [], 'description of an invisible package does not match')
    t.same((await search(s.alice, 'sauce')).results.map((r: Json) => r.name), ['acme/secret'], 'description search')
    t.same((await search(s.alice, 'nobody may see')).results, [])
    t.same((await search(s.bob, 'hidden')).results, [])
    t.same((await search(s.alice, 'acme', 'magento2-module')).results.map((r: Json) => r.name), ['acme/widget'], 'type filter')
    t.same((await search(s.alice, 'acme', 'library')).results.map((r: Json) => r.name), ['acme/secret'], 'type defaults to library')
    t.same((await search(s.bob, 'acme', 'library')).results, [])
  })
})

/** A raw HTTP request whose path is sent byte for byte (no client-side normalisation). */
function rawGet (port: number, rawPath: string, headers: Headers): Promise<{ status: number, body: Buffer, headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('C. path traversal never reaches a file outside the archives', async (t) => {
  const s = await seed(t)
  await s.app.listen({ host: '127.0.0.1', port: 0 })
  const port = (s.app.server.address() as AddressInfo).port
  const archivesBefore = filesUnder(s.config.archiveDir)
  const paths = [
    '/p2/../../etc/passwd',
    '/p2/acme/../../../etc/passwd.json',
    '/p2/%2e%2e/%2e%2e.json',
    '/p2/acme/%2e%2e%2f%2e%2e%2fpackyard.sqlite',
    '/p2/acme/widget.json%00',
    '/p2/acme/widget%00.json',
    '/p2/acme/..%5c..%5cpackyard.json',
    '/archives/acme/foo/..%2f..%2fpackyard.sqlite',
    '/archives/acme/widget/..%2f..%2f..%2fpackyard.sqlite',
    '/archives/acme/widget/%2e%2e%2f%2e%2e%2fpackyard.sqlite',
    '/archives/%2e%2e/%2e%2e/packyard.sqlite',
    '/archives/acme/widget/%252e%252e%252f%252e%252epackyard.sqlite',
    '/archives/acme/widget/%252e%252e%252f%252e%252e%252facme-widget-1.0.0.0.zip',
    '/archives/acme/widget/..\\..\\packyard.sqlite',
    '/archives/acme/widget/..%5c..%5cpackyard.sqlite',
    '/archives/acme/widget/acme-widget-1.0.0.0.zip%00.txt',
    '/archives/acme/widget/%00',
    '/archives/acme/widget/../../../packyard.sqlite',
    '/archives/acme/widget/..%2facme-widget-1.0.0.0.zip',
    '/archives/acme/widget/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd',
    '/archives/..%2f..%2f/x/packyard.sqlite',
    '/archives/tmp/x/y.zip',
    '/archives/acme%2fwidget/x/acme-widget-1.0.0.0.zip',
    '/archives/acme/widget/%zz.zip',
    '//etc/passwd',
    '/packages.json/../packyard.sqlite',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/..%2f..%2fetc%2fpasswd'
  ]
  // The data directory's own files, addressed relative to the archives.
  for (const f of archivesBefore) {
    paths.push(`/archives/${f.split(path.sep).join('/')}`)
    paths.push(`/archives/acme/widget/..%2f..%2f${f.split(path.sep).join('%2f')}`)
  }
  for (const p of paths) {
    const res = await rawGet(port, p, auth(s.alice))
    t.ok(res.status === 400 || res.status === 404, `${p}: ${res.status} is 400 or 404`)
    const text = res.body.toString('latin1')
    t.notOk(['SQLite format', 'root:', 'PK\u0003\u0004'].some((m) => text.includes(m)), `${p}: no file content`)
  }
  for (const p of paths.slice(0, 8)) {
    const res = await rawGet(port, p, {})
    t.ok(res.status >= 400 && res.status < 500, `${p} without credentials: ${res.status} is 4xx`)
  }
  t.same(filesUnder(s.config.archiveDir), archivesBefore, 'no file created or removed')
  t.equal((await rawGet(port, '/healthz', {})).status, 200, 'still serving /healthz')
  const p2 = await rawGet(port, '/p2/acme/widget.json', auth(s.alice))
  t.equal(p2.status, 200, 'still serving metadata')
  const zip = await rawGet(port, '/archives/acme/widget/acme-widget-1.0.0.0.zip', auth(s.alice))
  t.equal(zip.status, 200, 'still serving archives')
  t.equal(zip.body.subarray(0, 4).toString('latin1'), 'PK\u0003\u0004')
  t.notMatch(s.log(), /"level":50/, 'nothing logged as an error (no 500)')
})

t.test('unknown URLs are JSON 404s, unknown methods are not 500s', async (t) => {
  const s = await seed(t)
  const res = await s.app.inject({ url: '/nope', headers: auth(s.alice) })
  t.equal(res.statusCode, 404)
  t.equal(res.headers['content-type'], 'application/json')
  const del = await s.app.inject({ method: 'DELETE', url: '/packages.json', headers: auth(s.alice) })
  t.ok(del.statusCode >= 400 && del.statusCode < 500)
})
