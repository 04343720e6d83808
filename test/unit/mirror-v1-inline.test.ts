import t from 'tap'
import { createHash } from 'node:crypto'
import { basic, buildTestApp, cliInProcess, cliJsonQuick, makeZip } from '../helpers/harness.js'
import { httpUpstream, json } from '../helpers/upstream.js'

// A Composer 1 upstream whose root lists packages inline and in Satis-style include files
// (repo.magento.com's older roots, Satis output), next to providers: read into the same stored
// form, served as p2 documents and mirrored archives; every include checked against its hash.

type Json = Record<string, any>

const sha1 = (b: Buffer | string): string => createHash('sha1').update(b).digest('hex')
const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex')
const USER = 'satis-user'
const PASS = 'satis-pass-9Qk2'

t.test('inline packages and includes of a Composer 1 root are mirrored like provider packages', async (t) => {
  const up = await httpUpstream(t, { auth: { username: USER, password: PASS } })
  const zips = new Map<string, Buffer>()
  let uid = 1
  const version = async (name: string, v: string): Promise<Json> => {
    const zip = await makeZip({ 'composer.json': JSON.stringify({ name, version: v }) })
    const path = `/dist/${name.replace('/', '-')}-${v}.zip`
    up.routes.set(path, zip)
    zips.set(`${name} ${v}`, zip)
    return { name, version: v, version_normalized: `${v}.0`, type: 'library', uid: uid++, dist: { type: 'zip', url: `${up.url}${path}`, reference: null, shasum: sha1(zip) } }
  }
  /** Serves the file at a content-addressed path and returns the path, as Satis names includes. */
  const serve = (prefix: string, body: Buffer, hash: string): string => {
    const path = `${prefix}$${hash}.json`
    up.routes.set(`/${path}`, body)
    return path
  }

  const nested = Buffer.from(JSON.stringify({ packages: { 'acme/nested': { '3.0.0': await version('acme/nested', '3.0.0') } } }))
  const nestedPath = serve('include/nested', nested, sha256(nested))
  const include = (extra: Json[]) => Buffer.from(JSON.stringify({
    packages: { 'acme/included': Object.fromEntries(extra.map((v) => [v.version, v])) },
    includes: { [nestedPath]: { sha256: sha256(nested) } }
  }))
  const included = [await version('acme/included', '1.0.0'), await version('acme/included', '1.1.0')]
  let all = include(included)
  const provider = Buffer.from(JSON.stringify({ packages: { 'acme/provided': { '4.0.0': await version('acme/provided', '4.0.0') } } }))
  up.routes.set(`/p/acme/provided$${sha256(provider)}.json`, provider)
  const providers = Buffer.from(JSON.stringify({ providers: { 'acme/provided': { sha256: sha256(provider) } } }))
  up.routes.set(`/p/providers$${sha256(providers)}.json`, providers)
  const inlineVersion = await version('acme/inline', '2.0.0')
  const publishRoot = (includeFile: Buffer, hash = sha1(includeFile)): void => {
    up.routes.set('/packages.json', json({
      packages: { 'acme/inline': { '2.0.0': inlineVersion } },
      includes: { [serve('include/all', includeFile, sha1(includeFile))]: { sha1: hash } },
      'providers-url': '/p/%package%$%hash%.json',
      'provider-includes': { 'p/providers$%hash%.json': { sha256: sha256(providers) } }
    }))
  }
  publishRoot(all)

  const upstreamAuth = JSON.stringify({ 'http-basic': { [`127.0.0.1:${up.port}`]: { username: USER, password: PASS } } })
  const { app, dataDir } = await buildTestApp(t, { publicUrl: undefined, webhookPollMs: 60_000, upstreamTimeoutMs: 2000, upstreamAuth })
  // The CLI in process, with the upstream credentials as the server has them.
  const packyard = (args: string[]) => cliInProcess(dataDir, ['--json', ...args], { env: { PACKYARD_UPSTREAM_AUTH: upstreamAuth } })
  const added = await packyard(['upstream', 'add', 'satis', up.url])
  t.same(added.json, { name: 'satis', url: up.url, mode: 'lazy', access: 'all' })
  t.same((await cliJsonQuick(dataDir, ['upstream', 'list']))[0].patterns, ['acme/*'], 'lazy patterns from the inline, included and provided names')
  await cliJsonQuick(dataDir, ['account', 'create', 'alice'])
  const key = await cliJsonQuick(dataDir, ['key', 'create', 'alice', '--name', 'ci']) as { publicKey: string, privateKey: string }
  const headers = basic(key.publicKey, key.privateKey)
  const p2 = async (name: string): Promise<Array<{ version: string, dist: { url: string, shasum: string } }>> => {
    const res = await app.inject({ url: `/p2/${name}.json`, headers })
    t.equal(res.statusCode, 200, `${name}: ${res.body}`)
    return (res.json() as Json).packages[name]
  }

  t.same((await p2('acme/inline')).map((v) => v.version), ['2.0.0'], 'inline in the root')
  t.same((await p2('acme/included')).map((v) => v.version), ['1.1.0', '1.0.0'], 'from an include named by its sha1')
  t.same((await p2('acme/nested')).map((v) => v.version), ['3.0.0'], 'from an include of an include, named by its sha256')
  t.same((await p2('acme/provided')).map((v) => v.version), ['4.0.0'], 'providers still read')
  t.equal((await app.inject({ url: '/p2/acme/unknown.json', headers })).statusCode, 404)

  const [newest] = await p2('acme/included')
  t.equal(newest!.dist.url, 'http://localhost:80/mirror/satis/acme/included/1.1.0.0.zip')
  const archive = await app.inject({ url: '/mirror/satis/acme/included/1.1.0.0.zip', headers })
  t.equal(archive.statusCode, 200)
  t.equal(sha1(archive.rawPayload), sha1(zips.get('acme/included 1.1.0')!), 'the archive, checked against the shasum upstream published')

  // A new release: a new include file (Satis names it by its new sha1); the old version stays.
  all = include([await version('acme/included', '1.2.0')])
  publishRoot(all)
  const sync = await packyard(['upstream', 'sync', 'satis'])
  t.equal(sync.code, 0, sync.stderr)
  t.match(sync.json, [{ upstream: 'satis', ok: true, packages: 5, updated: 1 }], 'the four names and acme/unknown, remembered as missing')
  t.same((await p2('acme/included')).map((v) => v.version), ['1.2.0', '1.1.0', '1.0.0'], 'versions that vanish upstream stay installable')

  // An include whose bytes do not match the hash the root names is refused; what is stored stays.
  const requestsBefore = up.requests.length
  publishRoot(include([await version('acme/included', '9.0.0')]), sha1('something else'))
  const tampered = await packyard(['upstream', 'sync', 'satis'])
  t.equal(tampered.code, 1)
  t.match(tampered.stderr, /^packyard: upstream satis: include http:\/\/127\.0\.0\.1:\d+\/include\/all\$[0-9a-f]{40}\.json: sha1 [0-9a-f]{40} does not match the [0-9a-f]{40} its parent names\n$/)
  t.ok(up.requests.slice(requestsBefore).some((r) => r.startsWith('/include/all$')), 'the include was fetched and checked')
  t.same((await p2('acme/included')).map((v) => v.version), ['1.2.0', '1.1.0', '1.0.0'], 'nothing from the refused file')
})
