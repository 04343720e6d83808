import t from 'tap'
import { basic, buildTestApp, tempDir, writePackageZip } from '../helpers/harness.js'
import { sample } from '../helpers/util.js'
import { browser, registered } from '../helpers/web.js'

t.test('GET /metrics counts requests by route pattern, auth failures by reason and downloads by package', async (t) => {
  const { app, dataDir } = await buildTestApp(t)
  const work = tempDir(t)
  const ctx = app.ctx
  const alice = await ctx.accounts.create({ username: 'alice' })
  const good = ctx.keys.create(alice.id, 'laptop')
  const off = ctx.keys.create(alice.id, 'old')
  ctx.keys.setEnabled(off.key.publicKey, false)
  await ctx.catalog.publish(await writePackageZip(work, { name: 'acme/widget', version: '1.0.0' }), { access: 'public' })
  t.ok(dataDir)

  const auth = basic(good.key.publicKey, good.privateKey)
  const get = (url: string, headers: Record<string, string> = auth) => app.inject({ url, headers })
  t.equal((await get('/packages.json', {})).statusCode, 401, 'no credentials')
  t.equal((await get('/packages.json', basic('short', 'short'))).statusCode, 401, 'malformed key')
  t.equal((await get('/packages.json', basic('a'.repeat(32), 'b'.repeat(32)))).statusCode, 401, 'unknown key')
  t.equal((await get('/packages.json', basic(good.key.publicKey, 'b'.repeat(32)))).statusCode, 401, 'wrong private key')
  t.equal((await get('/packages.json', basic(off.key.publicKey, off.privateKey))).statusCode, 401, 'disabled key')
  t.equal((await get('/packages.json')).statusCode, 200)
  const p2 = await get('/p2/acme/widget.json')
  t.equal(p2.statusCode, 200)
  const distUrl = new URL(JSON.parse(p2.body).packages['acme/widget'][0].dist.url as string)
  t.equal((await get(distUrl.pathname)).statusCode, 200)
  t.equal((await get(distUrl.pathname)).statusCode, 200)
  t.equal((await get('/p2/acme/nothing.json')).statusCode, 404)
  t.equal((await get('/no/such/url')).statusCode, 404)

  const res = await app.inject({ url: '/metrics' })
  t.equal(res.statusCode, 200, 'no repository credentials needed')
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const text = res.body
  t.equal(sample(text, 'packyard_http_requests_total', { method: 'GET', route: '/packages.json', status_code: '401' }), 5)
  t.equal(sample(text, 'packyard_http_requests_total', { method: 'GET', route: '/packages.json', status_code: '200' }), 1)
  t.equal(sample(text, 'packyard_http_requests_total', { method: 'GET', route: '/p2/:vendor/:file', status_code: '200' }), 1)
  t.equal(sample(text, 'packyard_http_requests_total', { method: 'GET', route: '/p2/:vendor/:file', status_code: '404' }), 1)
  t.equal(sample(text, 'packyard_http_requests_total', { method: 'GET', route: '/archives/:vendor/:name/:file', status_code: '200' }), 2)
  t.equal(sample(text, 'packyard_http_requests_total', { method: 'GET', route: 'unmatched', status_code: '404' }), 1)
  t.notMatch(text, 'route="/p2/acme/widget.json"', 'route patterns, never raw URLs')
  t.notMatch(text, '/no/such/url')
  t.equal(sample(text, 'packyard_http_request_duration_seconds_count', { method: 'GET', route: '/archives/:vendor/:name/:file', status_code: '200' }), 2)
  t.equal(sample(text, 'packyard_http_request_duration_seconds_bucket', { le: '+Inf', method: 'GET', route: '/archives/:vendor/:name/:file', status_code: '200' }), 2)
  t.ok(sample(text, 'packyard_http_request_duration_seconds_bucket', { le: '0.005', method: 'GET', route: '/packages.json', status_code: '200' }) !== undefined, 'histogram buckets')
  for (const reason of ['missing', 'malformed', 'unknown', 'wrong_secret', 'disabled']) {
    t.equal(sample(text, 'packyard_auth_failures_total', { surface: 'composer', reason }), 1, `auth failure: ${reason}`)
  }
  t.equal(sample(text, 'packyard_archive_downloads_total', { package: 'acme/widget' }), 2)
  for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
    t.ok(sample(text, name, {}) !== undefined, `process metric ${name}`)
  }
  t.notMatch(text, good.privateKey)
})

t.test('a fresh app starts every known auth failure reason at 0', async (t) => {
  const { app } = await buildTestApp(t)
  const text = (await app.inject({ url: '/metrics' })).body
  for (const reason of ['missing', 'malformed', 'unknown', 'wrong_secret', 'disabled']) {
    t.equal(sample(text, 'packyard_auth_failures_total', { surface: 'composer', reason }), 0, reason)
  }
})

t.test('failed sign-ins on every surface count with a surface label', async (t) => {
  const { app } = await buildTestApp(t)
  const fresh = (await app.inject({ url: '/metrics' })).body
  const surfaces: Record<string, string[]> = {
    composer: ['missing', 'malformed', 'unknown', 'wrong_secret', 'disabled'],
    pages: ['wrong_password', 'throttled'],
    api: ['missing', 'wrong_password', 'throttled'],
    downloads: ['missing', 'wrong_token']
  }
  for (const [surface, reasons] of Object.entries(surfaces)) {
    for (const reason of reasons) t.equal(sample(fresh, 'packyard_auth_failures_total', { surface, reason }), 0, `${surface} ${reason} starts at 0`)
  }

  await registered(app, 'alice', 'correct horse battery')
  const b = browser(app, { remoteAddress: '203.0.113.40' })
  for (let i = 0; i < 6; i++) await b.submit('/account/login', '/account/login', { username: 'alice', password: `guess ${i}` })
  await app.inject({ url: '/api/v1/account' })
  await app.inject({ url: '/api/v1/account', headers: basic('alice', 'wrong password'), remoteAddress: '203.0.113.41' })
  await app.inject({ url: '/products/downloads/info/help' })
  await app.inject({ url: '/products/downloads/info/help', headers: basic('MAG000000000', 'f'.repeat(40)) })
  await app.inject({ url: '/products/downloads/info/help', headers: basic('MAG000000000', 'f'.repeat(40)) })
  await app.inject({ url: '/packages.json', headers: basic('a'.repeat(32), 'b'.repeat(32)) })

  const text = (await app.inject({ url: '/metrics' })).body
  const count = (surface: string, reason: string) => sample(text, 'packyard_auth_failures_total', { surface, reason })
  t.equal(count('pages', 'wrong_password'), 5, 'wrong passwords on the login page')
  t.equal(count('pages', 'throttled'), 1, 'the sixth attempt was throttled')
  t.equal(count('api', 'missing'), 1)
  t.equal(count('api', 'wrong_password'), 1)
  t.equal(count('downloads', 'missing'), 1)
  t.equal(count('downloads', 'wrong_token'), 2)
  t.equal(count('composer', 'unknown'), 1)
  t.equal(count('composer', 'missing'), 0, 'other surfaces never count as composer')
})

t.test('two apps in one process keep separate registries', async (t) => {
  const a = await buildTestApp(t)
  const b = await buildTestApp(t)
  await a.app.inject({ url: '/packages.json' })
  await a.app.inject({ url: '/packages.json' })
  t.equal(sample((await a.app.inject({ url: '/metrics' })).body, 'packyard_auth_failures_total', { surface: 'composer', reason: 'missing' }), 2)
  t.equal(sample((await b.app.inject({ url: '/metrics' })).body, 'packyard_auth_failures_total', { surface: 'composer', reason: 'missing' }), 0)
})

t.test('PACKYARD_METRICS_TOKEN protects /metrics with a bearer token', async (t) => {
  const { app } = await buildTestApp(t, { metricsToken: 'scrape-me-7c1f' })
  const none = await app.inject({ url: '/metrics' })
  t.equal(none.statusCode, 401)
  t.equal(none.headers['www-authenticate'], 'Bearer realm="metrics"')
  t.notMatch(none.body, 'packyard_http_requests_total')
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer wrong' } })).statusCode, 401)
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: basic('scrape-me-7c1f', 'x').authorization } })).statusCode, 401, 'Basic is not Bearer')
  const ok = await app.inject({ url: '/metrics', headers: { authorization: 'Bearer scrape-me-7c1f' } })
  t.equal(ok.statusCode, 200)
  t.match(ok.body, 'packyard_http_requests_total')
})

t.test('PACKYARD_METRICS=off removes /metrics', async (t) => {
  const { app } = await buildTestApp(t, { metricsEnabled: 'off' })
  t.equal((await app.inject({ url: '/metrics' })).statusCode, 404)
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
})
