import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { basic, cliJson, composerProject, makeZip, runCli, startServer, tempDir, writePackageZip, type ServerProcess } from '../helpers/harness.js'
import { requireTools } from '../helpers/tools.js'

/*
 * Mirroring, end to end: the real Composer installs through one Packyard URL a project that
 * needs a local package, a package from a Composer v2 upstream (a second Packyard, standing in
 * for repo.magento.com) and one from a Composer v1 upstream (static files on node:http: providers,
 * and a Satis-style include holding the dependency), with their dependencies; then both upstreams
 * go away and installs and updates keep working.
 */

process.env.COLUMNS = '1000'

const V1_USER = 'v1-mirror-user'
const V1_PASS = 'v1-secret-Hx81kQ2zP'
const sha1 = (b: Buffer): string => createHash('sha1').update(b).digest('hex')
const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex')

type Mode = 'ok' | 'cut' | '500' | 'hang' | '401'

/** A Composer v1 provider repository with Basic auth; `mode` breaks it on purpose. */
async function v1Upstream (t: Test, packages: Array<{ name: string, version: string, require?: Record<string, string>, included?: boolean }>): Promise<{ url: string, port: number, server: Server, setMode: (m: Mode, scope?: 'archives' | 'all') => void, zips: Map<string, Buffer>, stop: () => Promise<void> }> {
  const files = new Map<string, Buffer>()
  const zips = new Map<string, Buffer>()
  let mode: Mode = 'ok'
  let scope: 'archives' | 'all' = 'archives'
  const server = createServer((req, res) => {
    const auth = req.headers.authorization ?? ''
    if (auth !== `Basic ${Buffer.from(`${V1_USER}:${V1_PASS}`).toString('base64')}`) { res.writeHead(401, { 'www-authenticate': 'Basic realm="v1"' }); return res.end('{}') }
    const p = decodeURIComponent((req.url ?? '').split('?')[0]!)
    const isArchive = p.startsWith('/dist/')
    if (mode !== 'ok' && (isArchive || scope === 'all')) {
      if (mode === '500') { res.writeHead(500); return res.end('boom') }
      if (mode === '401') { res.writeHead(401, { 'www-authenticate': 'Basic realm="v1"' }); return res.end('{}') }
      if (mode === 'hang') return
      if (mode === 'cut') {
        const body = files.get(p) ?? Buffer.alloc(4096, 1)
        res.writeHead(200, { 'content-length': String(body.length) })
        res.write(body.subarray(0, Math.floor(body.length / 2)))
        setTimeout(() => res.destroy(), 50)
        return
      }
    }
    const body = files.get(p)
    if (body === undefined) { res.writeHead(404); return res.end() }
    res.writeHead(200, { 'content-type': isArchive ? 'application/zip' : 'application/json', 'content-length': String(body.length) })
    res.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const url = `http://127.0.0.1:${port}`
  const providers: Record<string, { sha256: string }> = {}
  // Packages marked `included` are listed in a Satis-style include file named by its sha1 instead.
  const included: Record<string, Record<string, unknown>> = {}
  let uid = 1
  for (const pkg of packages) {
    const zip = await makeZip({ 'composer.json': JSON.stringify({ name: pkg.name, version: pkg.version, require: pkg.require ?? {} }), 'README.md': `${pkg.name} ${pkg.version}` })
    const file = `/dist/${pkg.name.replace('/', '-')}-${pkg.version}.zip`
    files.set(file, zip)
    zips.set(pkg.name, zip)
    const versions = {
      [pkg.version]: { name: pkg.name, version: pkg.version, version_normalized: `${pkg.version}.0`, type: 'library', require: pkg.require ?? {}, dist: { type: 'zip', url: `${url}${file}`, reference: null, shasum: sha1(zip) }, uid: uid++ }
    }
    if (pkg.included === true) {
      included[pkg.name] = versions
      continue
    }
    const provider = JSON.stringify({ packages: { [pkg.name]: versions } })
    providers[pkg.name] = { sha256: sha256(provider) }
    files.set(`/p/${pkg.name}$${sha256(provider)}.json`, Buffer.from(provider))
  }
  const include = JSON.stringify({ providers })
  files.set(`/p/provider-all$${sha256(include)}.json`, Buffer.from(include))
  const satis = Buffer.from(JSON.stringify({ packages: included }))
  files.set(`/include/all$${sha1(satis)}.json`, satis)
  files.set('/packages.json', Buffer.from(JSON.stringify({
    packages: {},
    includes: { [`include/all$${sha1(satis)}.json`]: { sha1: sha1(satis) } },
    'providers-url': '/p/%package%$%hash%.json',
    'provider-includes': { 'p/provider-all$%hash%.json': { sha256: sha256(include) } }
  })))
  const sockets = new Set<import('node:net').Socket>()
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  const stop = async (): Promise<void> => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t.teardown(async () => { if (server.listening) await stop() })
  return { url, port, server, setMode: (m, s = 'archives') => { mode = m; scope = s }, zips, stop }
}

if (requireTools(t, 'composer', 'php')) {
  await t.test('mirroring upstreams', async (t) => {
    const zipDir = tempDir(t)
    const upDir = tempDir(t)
    const mainDir = tempDir(t)
    const authDir = tempDir(t)

    // Upstream A: a second Packyard, Composer v2 with key-pair Basic auth (the repo.magento.com stand-in).
    const upstreamA = await startServer(t, upDir)
    await cliJson(upDir, ['account', 'create', 'mirror-bot'])
    const keyA = await cliJson(upDir, ['key', 'create', 'mirror-bot', '--name', 'mirror']) as { publicKey: string, privateKey: string }
    for (const [name, version, require] of [
      ['magento/framework', '1.0.0', {}],
      ['magento/module-a', '1.0.0', { 'magento/framework': '^1.0' }],
      ['shared/thing', '1.0.0', {}]
    ] as const) {
      await cliJson(upDir, ['publish', '--access', 'public', await writePackageZip(zipDir, { name, version, require })])
    }
    // An advisory the upstream publishes: composer audit through the mirroring Packyard reports it.
    await cliJson(upDir, ['advisory', 'add', 'magento/framework', '--affected', '<1.0.5', '--title', 'Upstream framework hole', '--cve', 'CVE-2030-7777', '--severity', 'high'])

    // Upstream B: Composer v1 providers, static files.
    const upstreamB = await v1Upstream(t, [
      { name: 'legacy/helper', version: '1.0.0', included: true },
      { name: 'legacy/tool', version: '1.0.0', require: { 'legacy/helper': '^1.0' } },
      { name: 'legacy/flaky', version: '1.0.0' },
      { name: 'legacy/unapproved', version: '1.0.0' },
      { name: 'legacy/secret', version: '1.0.0' }
    ])

    const authFile = path.join(authDir, 'auth.json')
    writeFileSync(authFile, JSON.stringify({
      'http-basic': {
        [`127.0.0.1:${upstreamA.port}`]: { username: keyA.publicKey, password: keyA.privateKey },
        [`127.0.0.1:${upstreamB.port}`]: { username: V1_USER, password: V1_PASS }
      }
    }))
    const env = { PACKYARD_UPSTREAM_AUTH_FILE: authFile, PACKYARD_UPSTREAM_TIMEOUT_MS: '1500', PACKYARD_MIRROR_MAX_AGE: '300' }
    const cli = async (args: string[]): Promise<any> => {
      const r = await runCli(mainDir, ['--json', ...args], { env })
      if (r.code !== 0) throw new Error(`packyard ${args.join(' ')} failed (${r.code}): ${r.stderr}`)
      return r.json
    }

    const added = await cli(['upstream', 'add', 'magento', upstreamA.url])
    t.same(added, { name: 'magento', url: upstreamA.url, mode: 'lazy', access: 'all' })
    await cli(['upstream', 'add', 'legacy', upstreamB.url, '--mode', 'approved'])
    for (const name of ['legacy/tool', 'legacy/helper', 'legacy/flaky']) await cli(['upstream', 'approve', 'legacy', name])
    await cli(['upstream', 'add', 'private', upstreamB.url, '--mode', 'approved', '--access', 'granted'])
    await cli(['upstream', 'approve', 'private', 'legacy/secret'])

    // Local packages: one the project needs, one shadowing an upstream name.
    await cliJson(mainDir, ['publish', '--access', 'public', await writePackageZip(zipDir, { name: 'local/app', version: '1.0.0' })])
    await cliJson(mainDir, ['publish', '--access', 'public', await writePackageZip(zipDir, { name: 'shared/thing', version: '2.0.0' })])
    for (const user of ['alice', 'bob']) await cliJson(mainDir, ['account', 'create', user])
    const alice = await cliJson(mainDir, ['key', 'create', 'alice', '--name', 'ci']) as { publicKey: string, privateKey: string }
    const bob = await cliJson(mainDir, ['key', 'create', 'bob', '--name', 'ci']) as { publicKey: string, privateKey: string }
    await cli(['grant', 'alice', 'upstream:private'])

    const main: ServerProcess = await startServer(t, mainDir, { env })
    const get = (url: string, key = alice, headers: Record<string, string> = {}): Promise<Response> =>
      fetch(`${main.url}${url}`, { headers: { ...basic(key.publicKey, key.privateKey), ...headers } })

    const list = await cli(['upstream', 'list'])
    t.same(list.find((u: any) => u.name === 'magento').patterns, ['magento/*', 'shared/*'], 'lazy patterns default to the vendors upstream advertises')

    const require = { 'local/app': '^1.0', 'magento/module-a': '^1.0', 'legacy/tool': '^1.0' }
    const project = composerProject(t, main.url, { require })
    project.setAuth(alice.publicKey, alice.privateKey)

    await t.test('Composer installs a local package and one from each upstream, with dependencies, through one URL', async (t) => {
      const r = await project.run(['install'])
      t.equal(r.code, 0, r.output)
      for (const name of ['local/app', 'magento/module-a', 'magento/framework', 'legacy/tool', 'legacy/helper']) {
        t.ok(existsSync(path.join(project.dir, 'vendor', name, 'composer.json')), `${name} installed`)
      }
      const lock = JSON.parse(readFileSync(path.join(project.dir, 'composer.lock'), 'utf8')) as { packages: Array<{ name: string, dist: { url: string } }> }
      for (const p of lock.packages) t.ok(p.dist.url.startsWith(main.url), `${p.name} downloads from Packyard: ${p.dist.url}`)
      t.match(lock.packages.find((p) => p.name === 'legacy/tool')!.dist.url, `${main.url}/mirror/legacy/legacy/tool/1.0.0.0.zip`)
    })

    await t.test('composer audit reports the advisory the upstream publishes for a mirrored package, and the operator\'s own', async (t) => {
      // The operator's advisory on the mirrored name, added from another process while the server runs.
      await cli(['advisory', 'add', 'magento/framework', '--affected', '>=1.0,<1.1', '--title', 'Operator framework note', '--severity', 'low'])
      const audit = await project.run(['audit', '--format', 'json'], { noProgress: false })
      t.not(audit.code, 0, 'exits non-zero with an affected package')
      const report = JSON.parse(audit.output.slice(audit.output.indexOf('{'))) as { advisories: Record<string, Array<{ title: string, cve: string | null }>> }
      t.same(report.advisories['magento/framework']!.map((a) => a.title).sort(), ['Operator framework note', 'Upstream framework hole'], 'both, merged')
      t.match(report.advisories['magento/framework'], [{}, { cve: 'CVE-2030-7777' }])
      const table = await project.run(['audit'], { noProgress: false })
      t.match(table.output, /Upstream framework hole/)
      t.match(table.output, /Operator framework note/)
    })

    await t.test('a local package shadows the upstream package of the same name completely', async (t) => {
      const res = await get('/p2/shared/thing.json')
      t.equal(res.status, 200)
      const doc = await res.json() as { packages: Record<string, Array<{ version: string, dist: { url: string } }>> }
      t.same(doc.packages['shared/thing']!.map((v) => v.version), ['2.0.0'])
      t.notMatch(doc.packages['shared/thing']![0]!.dist.url, /\/mirror\//)
      t.equal((await get('/mirror/magento/shared/thing/1.0.0.0.zip')).status, 404)
    })

    await t.test('approved mode answers 404 for a name that is not approved', async (t) => {
      t.equal((await get('/p2/legacy/unapproved.json')).status, 404)
      t.equal((await get('/mirror/legacy/legacy/unapproved/1.0.0.0.zip')).status, 404)
      const root = await (await get('/packages.json')).json() as { 'available-packages': string[], 'available-package-patterns': string[] }
      t.ok(root['available-packages'].includes('legacy/tool'))
      t.notOk(root['available-packages'].includes('legacy/unapproved'))
      t.same(root['available-package-patterns'], ['magento/*', 'shared/*'])
    })

    await t.test('--access granted hides the upstream from an account without the grant', async (t) => {
      const rootBob = await (await get('/packages.json', bob)).json() as { 'available-packages': string[] }
      t.notOk(rootBob['available-packages'].includes('legacy/secret'))
      t.equal((await get('/p2/legacy/secret.json', bob)).status, 404)
      t.equal((await get('/p2/legacy/secret.json', alice)).status, 200)
      t.equal((await get('/mirror/private/legacy/secret/1.0.0.0.zip', bob)).status, 404)
    })

    await t.test('a broken upstream archive: a clear error, nothing corrupt cached, other requests answered', async (t) => {
      const flaky = '/mirror/legacy/legacy/flaky/1.0.0.0.zip'
      t.equal((await get('/p2/legacy/flaky.json')).status, 200)
      for (const mode of ['cut', '500', '401', 'hang'] as const) {
        upstreamB.setMode(mode)
        const started = Date.now()
        const pending = get(flaky)
        // The server keeps answering while the upstream hangs or fails.
        const other = await get('/packages.json')
        t.equal(other.status, 200, `${mode}: other requests are served meanwhile`)
        const res = await pending
        t.equal(res.status, 502, `${mode}: 502`)
        t.match(await res.text(), /upstream legacy failed/)
        t.ok(Date.now() - started < 10_000, `${mode}: answered within the timeout`)
      }
      const status = (await cli(['upstream', 'list'])).find((u: any) => u.name === 'legacy')
      t.ok(status.lastError !== null, 'upstream list shows the failure')
      t.equal(status.archives, 2, 'no broken archive was recorded')
      // Composer sees the failure as an error, not as corrupt bytes.
      upstreamB.setMode('cut')
      const p = composerProject(t, main.url, { require: { 'legacy/flaky': '^1.0' } })
      p.setAuth(alice.publicKey, alice.privateKey)
      const r = await p.run(['install'])
      t.not(r.code, 0)
      t.match(r.output, /502/)
      // Once upstream works, the archive is fetched, checked and kept: later failures no longer matter.
      upstreamB.setMode('ok')
      const ok = await get(flaky)
      t.equal(ok.status, 200)
      t.equal(sha1(Buffer.from(await ok.arrayBuffer())), sha1(upstreamB.zips.get('legacy/flaky')!))
      upstreamB.setMode('500', 'all')
      const again = await get(flaky)
      t.equal(again.status, 200, 'served from the store while upstream answers 500')
      const ranged = await get(flaky, alice, { range: 'bytes=0-9' })
      t.equal(ranged.status, 206)
      t.equal((await ranged.arrayBuffer()).byteLength, 10)
      const sync = await runCli(mainDir, ['--json', 'upstream', 'sync', 'legacy'], { env })
      t.equal(sync.code, 1, 'a failed sync exits non-zero')
      t.match(sync.stderr, /^packyard: upstream legacy: /m, 'one line per failure on stderr')
      t.equal(sync.json[0].ok, false)
      t.ok(sync.json[0].errors.length > 0, 'sync reports the failure')
      t.equal((await get('/p2/legacy/tool.json')).status, 200, 'stored metadata still served')
      upstreamB.setMode('ok')
    })

    await t.test('metrics per upstream', async (t) => {
      const text = await (await fetch(`${main.url}/metrics`)).text()
      t.match(text, /packyard_upstream_requests_total\{upstream="legacy"\} \d+/)
      t.match(text, /packyard_upstream_errors_total\{upstream="legacy"\} [1-9]/)
      t.match(text, /packyard_upstream_oldest_metadata_age_seconds\{upstream="magento"\}/)
    })

    await t.test('with both upstreams down, a locked install and an update still work', async (t) => {
      await upstreamA.stop()
      await upstreamB.stop()
      const down = await runCli(mainDir, ['--json', 'upstream', 'sync', 'magento'], { env })
      t.equal(down.code, 1, 'a sync with the upstream down fails')
      t.match(down.stderr, /^packyard: upstream magento: GET http:\/\/127\.0\.0\.1:\d+\/packages\.json: /)
      t.ok(down.json[0].errors.length > 0)
      const health = await fetch(`${main.url}/healthz`)
      t.equal(health.status, 200, 'Packyard stays healthy while its upstreams are down')
      const body = await health.json() as { status: string, upstreams: Array<{ name: string, healthy: boolean, lastError: string | null }> }
      t.equal(body.status, 'ok')
      t.match(body.upstreams.find((u) => u.name === 'magento'), { healthy: false, lastError: String }, '/healthz reports the failing upstream')
      const fresh = composerProject(t, main.url, { require })
      for (const f of ['composer.json', 'composer.lock', 'auth.json']) copyFileSync(path.join(project.dir, f), path.join(fresh.dir, f))
      const install = await fresh.run(['install'])
      t.equal(install.code, 0, install.output)
      t.ok(existsSync(path.join(fresh.dir, 'vendor', 'magento', 'framework', 'composer.json')))
      t.ok(existsSync(path.join(fresh.dir, 'vendor', 'legacy', 'helper', 'composer.json')))
      const update = await fresh.run(['update'])
      t.equal(update.code, 0, update.output)
    })

    await t.test('upstream credentials appear nowhere in the database, a backup or the log', async (t) => {
      const backupDir = path.join(tempDir(t), 'backup')
      const b = await runCli(mainDir, ['backup', backupDir], { env })
      t.equal(b.code, 0, b.stderr)
      const secrets = [keyA.privateKey, V1_PASS, Buffer.from(`${V1_USER}:${V1_PASS}`).toString('base64')]
      const files = [...readdirSync(mainDir).map((f) => path.join(mainDir, f)), ...readdirSync(backupDir).map((f) => path.join(backupDir, f))]
        .filter((f) => statSync(f).isFile())
      t.ok(files.some((f) => f.endsWith('packyard.sqlite')))
      for (const f of files) {
        const content = readFileSync(f).toString('latin1')
        for (const s of secrets) t.notOk(content.includes(s), `no upstream secret in ${path.basename(f)}`)
      }
      const mainLog = await main.settledLog()
      for (const s of secrets) t.notOk(mainLog.includes(s), 'no upstream secret in the log')
      t.ok(readdirSync(path.join(backupDir, 'archives')).length > 0, 'mirrored archives are in the backup')
    })
  })
}
