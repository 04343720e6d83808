import t, { type Test } from 'tap'
import type { AddressInfo } from 'node:net'
import { basic, buildTestApp, cliInProcess, cliJsonQuick, tempDir, writePackageZip } from '../helpers/harness.js'
import { closedPort } from '../helpers/upstream.js'

type Json = Record<string, any>

/** A second Packyard on a real socket, with public packages and a key pair for the mirror. */
async function upstreamPackyard (t: Test, packages: Array<{ name: string, version: string }>) {
  const up = await buildTestApp(t, { publicUrl: undefined, webhookPollMs: 60_000 })
  const zips = tempDir(t)
  for (const p of packages) await up.app.ctx.catalog.publish(await writePackageZip(zips, p), { access: 'public' })
  await cliJsonQuick(up.dataDir, ['account', 'create', 'mirror-bot'])
  const key = await cliJsonQuick(up.dataDir, ['key', 'create', 'mirror-bot', '--name', 'mirror']) as { publicKey: string, privateKey: string }
  await up.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = up.app.server.address() as AddressInfo
  return { ...up, url: `http://127.0.0.1:${port}`, auth: JSON.stringify({ 'http-basic': { [`127.0.0.1:${port}`]: { username: key.publicKey, password: key.privateKey } } }) }
}

async function mainApp (t: Test, overrides: Record<string, unknown> = {}) {
  const built = await buildTestApp(t, { publicUrl: undefined, webhookPollMs: 60_000, upstreamTimeoutMs: 2000, ...overrides })
  const { app } = built
  const admin = app.ctx.apiTokens.create('ops', 'admin').secret
  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, token: string | null = admin) => {
    const res = await app.inject({
      method,
      url: `/api/v1/admin${url}`,
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
      ...(body === undefined ? {} : { payload: body as Json })
    })
    return { status: res.statusCode, body: res.body, json: (): any => JSON.parse(res.body) }
  }
  return { ...built, admin, call }
}

t.test('/healthz stays 200 with an upstream down and reports it', async (t) => {
  const { app, call } = await mainApp(t)
  const port = await closedPort()
  // Adding a lazy upstream without patterns asks its packages.json: that fails already.
  t.equal((await call('POST', '/upstreams', { name: 'gone', url: `http://127.0.0.1:${port}`, mode: 'approved' })).status, 201)
  const sync = await call('POST', '/upstreams/gone/sync')
  t.equal(sync.status, 502, 'a failed sync is a 502')
  t.equal(sync.json().ok, false)
  t.ok(sync.json().errors.length > 0, 'the sync reports the failure')
  const res = await app.inject({ url: '/healthz' })
  t.equal(res.statusCode, 200, 'Packyard itself is healthy')
  const body = JSON.parse(res.body) as Json
  t.equal(body.status, 'ok')
  t.equal(body.upstreams.length, 1)
  t.match(body.upstreams[0], { name: 'gone', healthy: false, lastSuccessAt: null, lastErrorAt: String, lastError: /ECONNREFUSED|refused|fetch failed/i })
})

t.test('upstreams over the admin API: add, list with health, approve, sync, grant, remove', async (t) => {
  const up = await upstreamPackyard(t, [{ name: 'acme/lib', version: '1.0.0' }, { name: 'acme/other', version: '1.0.0' }])
  const { app, call, admin } = await mainApp(t, { upstreamAuth: up.auth })

  // Every route needs an admin token.
  const publisher = app.ctx.apiTokens.create('ci', 'publish').secret
  for (const [method, url] of [['GET', '/upstreams'], ['POST', '/upstreams'], ['DELETE', '/upstreams/x'], ['POST', '/upstreams/x/approve'],
    ['POST', '/upstreams/x/sync'], ['PUT', '/accounts/a/upstreams/x'], ['DELETE', '/accounts/a/upstreams/x']] as const) {
    t.equal((await call(method, url, undefined, null)).status, 401, `${method} ${url} without a token`)
    t.equal((await call(method, url, undefined, publisher)).status, 403, `${method} ${url} with a publish token`)
  }

  const added = await call('POST', '/upstreams', { name: 'up', url: `${up.url}/packages.json`, mode: 'approved', access: 'granted' })
  t.equal(added.status, 201, added.body)
  t.match(added.json(), { name: 'up', url: up.url, mode: 'approved', access: 'granted', patterns: [], healthy: true })
  t.equal((await call('POST', '/upstreams', { name: 'up', url: up.url })).status, 409, 'a second upstream of the same name')
  t.equal((await call('POST', '/upstreams', { name: 'Bad Name', url: up.url })).status, 400)
  t.equal((await call('POST', '/upstreams', { name: 'creds', url: 'http://u:p@127.0.0.1/' })).status, 400)
  t.equal((await call('POST', '/upstreams', { name: 'x', url: up.url, mode: 'eager' })).status, 400)

  const approved = await call('POST', '/upstreams/up/approve', { package: 'acme/lib' })
  t.equal(approved.status, 200)
  t.same(approved.json(), { upstream: 'up', package: 'acme/lib', approved: true })
  t.equal((await call('POST', '/upstreams/nope/approve', { package: 'acme/lib' })).status, 404)

  const sync = await call('POST', '/upstreams/up/sync')
  t.equal(sync.status, 200)
  t.same(sync.json(), { upstream: 'up', ok: true, packages: 1, updated: 1, errors: [] })

  const listed = (await call('GET', '/upstreams')).json() as Json[]
  t.match(listed, [{ name: 'up', healthy: true, lastSuccessAt: String, packages: 1, versions: 1 }])

  // access "granted": only a granted account sees the mirrored package.
  await cliJsonQuick(app.ctx.config.dataDir, ['account', 'create', 'alice'])
  const alice = await cliJsonQuick(app.ctx.config.dataDir, ['key', 'create', 'alice', '--name', 'ci']) as { publicKey: string, privateKey: string }
  const p2 = async (): Promise<number> => (await app.inject({ url: '/p2/acme/lib.json', headers: basic(alice.publicKey, alice.privateKey) })).statusCode
  t.equal(await p2(), 404, 'not granted yet')
  const granted = await call('PUT', '/accounts/alice/upstreams/up')
  t.equal(granted.status, 200)
  t.same(granted.json(), { username: 'alice', upstream: 'up', granted: true })
  t.equal(await p2(), 200, 'granted')
  t.equal((await call('PUT', '/accounts/nobody/upstreams/up')).status, 404)
  t.equal((await call('DELETE', '/accounts/alice/upstreams/up')).status, 204)
  t.equal(await p2(), 404, 'revoked')

  t.equal((await call('POST', '/upstreams/up/unapprove', { package: 'acme/lib' })).json().approved, false)
  t.equal((await call('DELETE', '/upstreams/up')).status, 204)
  t.equal((await call('DELETE', '/upstreams/up')).status, 404)
  t.same((await call('GET', '/upstreams')).json(), [])
  t.ok(admin)
})

t.test('advisories of mirrored packages come from the upstream, are stored, and are served stale while it is down', async (t) => {
  const up = await upstreamPackyard(t, [{ name: 'acme/lib', version: '1.0.0' }, { name: 'acme/clean', version: '1.0.0' }])
  const upstreamAdvisory = up.app.ctx.advisories.add({ package: 'acme/lib', affectedVersions: '<1.0.1', title: 'Upstream hole', cve: 'CVE-2030-1234', severity: 'high' })
  const { app, call } = await mainApp(t, { upstreamAuth: up.auth, mirrorMaxAgeSeconds: 1 })
  t.equal((await call('POST', '/upstreams', { name: 'up', url: up.url, mode: 'approved' })).status, 201)
  for (const name of ['acme/lib', 'acme/clean']) await call('POST', '/upstreams/up/approve', { package: name })
  t.same((await call('POST', '/upstreams/up/sync')).json().errors, [])
  // The operator's own advisory on a local package, in the same answer.
  await app.ctx.catalog.publish(await writePackageZip(tempDir(t), { name: 'local/app', version: '1.0.0' }), { access: 'public' })
  app.ctx.advisories.add({ package: 'local/app', affectedVersions: '<2.0', title: 'Local hole' })
  await cliJsonQuick(app.ctx.config.dataDir, ['account', 'create', 'alice'])
  const alice = await cliJsonQuick(app.ctx.config.dataDir, ['key', 'create', 'alice', '--name', 'ci']) as { publicKey: string, privateKey: string }
  const audit = async (): Promise<Json> => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/security-advisories/',
      headers: { ...basic(alice.publicKey, alice.privateKey), 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'packages%5B0%5D=acme%2Flib&packages%5B1%5D=acme%2Fclean&packages%5B2%5D=local%2Fapp&packages%5B3%5D=other%2Funknown'
    })
    t.equal(res.statusCode, 200, res.body)
    return (JSON.parse(res.body) as { advisories: Json }).advisories
  }
  const first = await audit()
  t.same(Object.keys(first).sort(), ['acme/clean', 'acme/lib', 'local/app'])
  t.same(first['acme/clean'], [])
  t.match(first['acme/lib'], [{ advisoryId: upstreamAdvisory.advisoryId, packageName: 'acme/lib', affectedVersions: '<1.0.1', title: 'Upstream hole', cve: 'CVE-2030-1234', severity: 'high', sources: [{ name: 'Packyard', remoteId: upstreamAdvisory.advisoryId }] }])
  t.equal(first['acme/lib'].length, 1)
  t.match(first['local/app'], [{ title: 'Local hole' }])

  // Stale after a second; the upstream is gone: the stored advisories are still served, and fast.
  await up.app.close()
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const started = Date.now()
  const stale = await audit()
  t.match(stale['acme/lib'], [{ title: 'Upstream hole' }], 'served stale while the upstream is down')
  t.ok(Date.now() - started < 5000)
  t.equal((JSON.parse((await app.inject({ url: '/healthz' })).body) as Json).upstreams[0].healthy, false)
})

t.test('the operator\'s advisories may name a mirrored package; composer audit merges them with the upstream\'s', async (t) => {
  const up = await upstreamPackyard(t, [{ name: 'acme/lib', version: '1.0.0' }, { name: 'acme/quiet', version: '1.0.0' }, { name: 'acme/other', version: '1.0.0' }])
  const upstreamAdvisory = up.app.ctx.advisories.add({ package: 'acme/lib', affectedVersions: '<1.0.1', title: 'Upstream hole', cve: 'CVE-2030-1234' })
  const { app, call } = await mainApp(t, { upstreamAuth: up.auth })
  t.equal((await call('POST', '/upstreams', { name: 'up', url: up.url, mode: 'approved' })).status, 201)
  for (const name of ['acme/lib', 'acme/quiet']) await call('POST', '/upstreams/up/approve', { package: name })
  t.same((await call('POST', '/upstreams/up/sync')).json().errors, [])
  const dataDir = app.ctx.config.dataDir

  // `packyard advisory add` and the admin API accept a name only an upstream serves.
  const viaCli = await cliInProcess(dataDir, ['--json', 'advisory', 'add', 'acme/lib', '--affected', '>=1.0,<1.2', '--title', 'Operator finding', '--severity', 'medium'])
  t.equal(viaCli.code, 0, viaCli.stderr)
  t.match(viaCli.json, { advisoryId: /^PACKYARD-\d+$/, packageName: 'acme/lib', affectedVersions: '>=1.0,<1.2', title: 'Operator finding', severity: 'medium' })
  const viaApi = await call('POST', '/advisories', { package: 'ACME/Quiet', affectedVersions: '<9', title: 'Quiet upstream, loud operator' })
  t.equal(viaApi.status, 201, viaApi.body)
  t.equal(viaApi.json().packageName, 'acme/quiet')
  // Names neither published here nor served by an upstream are still refused.
  const unknown = await cliInProcess(dataDir, ['advisory', 'add', 'nobody/none', '--affected', '<1', '--title', 'x'])
  t.equal(unknown.code, 1)
  t.equal(unknown.stderr, 'packyard: package "nobody/none" (published here or served by an upstream) not found\n')
  t.equal((await call('POST', '/advisories', { package: 'acme/other', affectedVersions: '<1', title: 'x' })).status, 404, 'not approved: not served')
  t.same((await call('GET', '/advisories')).json().map((a: Json) => a.packageName), ['acme/lib', 'acme/quiet'])

  await cliJsonQuick(dataDir, ['account', 'create', 'alice'])
  const alice = await cliJsonQuick(dataDir, ['key', 'create', 'alice', '--name', 'ci']) as { publicKey: string, privateKey: string }
  const res = await app.inject({
    method: 'POST',
    url: '/api/security-advisories/',
    headers: { ...basic(alice.publicKey, alice.privateKey), 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'packages%5B0%5D=acme%2Flib&packages%5B1%5D=acme%2Fquiet'
  })
  t.equal(res.statusCode, 200, res.body)
  const advisories = (JSON.parse(res.body) as { advisories: Json }).advisories
  t.match(advisories['acme/lib'], [
    { advisoryId: viaCli.json.advisoryId, title: 'Operator finding', sources: [{ name: 'Packyard', remoteId: viaCli.json.advisoryId }] },
    { advisoryId: upstreamAdvisory.advisoryId, title: 'Upstream hole', cve: 'CVE-2030-1234' }
  ], 'the operator\'s advisory, then the upstream\'s')
  t.equal(advisories['acme/lib'].length, 2)
  t.match(advisories['acme/quiet'], [{ title: 'Quiet upstream, loud operator', packageName: 'acme/quiet' }])
  t.equal(advisories['acme/quiet'].length, 1)
})
