import t, { type Test } from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import type { FastifyInstance } from 'fastify'
import { basic, buildTestApp, cliJson, startServer, tempDir, ROOT } from '../helpers/harness.js'
import { requireTools } from '../helpers/tools.js'

const PASSWORD = 'correct horse battery'
const REVEAL_KEY = 'a3f1c27e9b4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7'

type Json = Record<string, any>

async function api (app: FastifyInstance, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, opts: { user?: string, password?: string, body?: unknown, headers?: Record<string, string>, remoteAddress?: string } = {}) {
  const res = await app.inject({
    method,
    url,
    headers: { ...basic(opts.user ?? 'alice', opts.password ?? PASSWORD), ...opts.headers },
    ...(opts.body === undefined ? {} : { payload: opts.body as Json }),
    remoteAddress: opts.remoteAddress
  })
  return { status: res.statusCode, headers: res.headers, body: res.body, json: (): Json => JSON.parse(res.body) }
}

async function withAccounts (t: Test, overrides = {}) {
  const built = await buildTestApp(t, overrides)
  await built.app.ctx.accounts.create({ username: 'alice', password: PASSWORD })
  await built.app.ctx.accounts.create({ username: 'bob', password: PASSWORD })
  return built
}

async function composerStatus (app: FastifyInstance, publicKey: string, privateKey: string): Promise<number> {
  return (await app.inject({ url: '/packages.json', headers: basic(publicKey, privateKey) })).statusCode
}

t.test('the whole key lifecycle over the JSON API; Composer sees every change at once', async (t) => {
  const { app } = await withAccounts(t)

  const me = await api(app, 'GET', '/api/v1/account')
  t.equal(me.status, 200)
  t.match(me.json(), { username: 'alice', mageId: /^MAG\d{9}$/, keyReveal: false })

  t.same((await api(app, 'GET', '/api/v1/keys')).json(), [])
  const created = await api(app, 'POST', '/api/v1/keys', { body: { name: 'ci' } })
  t.equal(created.status, 201)
  const key = created.json()
  t.match(key, { name: 'ci', publicKey: /^[0-9a-f]{32}$/, privateKey: /^[0-9a-f]{32}$/, enabled: true, lastUsedAt: null })
  t.equal(await composerStatus(app, key.publicKey, key.privateKey), 200)

  const list = (await api(app, 'GET', '/api/v1/keys')).json()
  t.equal(list.length, 1)
  t.match(list[0], { name: 'ci', publicKey: key.publicKey, enabled: true, createdAt: String, lastUsedAt: String })
  t.notOk('privateKey' in list[0], 'a listing never shows a private key')
  t.match((await api(app, 'GET', `/api/v1/keys/${key.publicKey}`)).json(), { name: 'ci', publicKey: key.publicKey })

  const renamed = await api(app, 'PATCH', `/api/v1/keys/${key.publicKey}`, { body: { name: 'ci-server' } })
  t.equal(renamed.status, 200)
  t.same(renamed.json(), { name: 'ci-server', publicKey: key.publicKey })
  t.equal((await api(app, 'PATCH', `/api/v1/keys/${key.publicKey}`, { body: { name: '' } })).status, 400)
  t.equal((await api(app, 'PATCH', `/api/v1/keys/${key.publicKey}`, { body: {} })).status, 400)

  t.same((await api(app, 'POST', `/api/v1/keys/${key.publicKey}/disable`)).json(), { publicKey: key.publicKey, enabled: false })
  t.equal(await composerStatus(app, key.publicKey, key.privateKey), 401)
  t.same((await api(app, 'POST', `/api/v1/keys/${key.publicKey}/enable`)).json(), { publicKey: key.publicKey, enabled: true })
  t.equal(await composerStatus(app, key.publicKey, key.privateKey), 200)

  const regenerated = await api(app, 'POST', `/api/v1/keys/${key.publicKey}/regenerate`)
  t.equal(regenerated.status, 200)
  const fresh = regenerated.json()
  t.match(fresh, { name: 'ci-server', publicKey: /^[0-9a-f]{32}$/, privateKey: /^[0-9a-f]{32}$/ })
  t.not(fresh.publicKey, key.publicKey)
  t.equal(await composerStatus(app, key.publicKey, key.privateKey), 401, 'old pair refused')
  t.equal(await composerStatus(app, fresh.publicKey, fresh.privateKey), 200, 'new pair works')
  t.equal((await api(app, 'GET', `/api/v1/keys/${key.publicKey}`)).status, 404)

  const reveal = await api(app, 'POST', `/api/v1/keys/${fresh.publicKey}/reveal`)
  t.equal(reveal.status, 404, 'no reveal with the option off')

  const deleted = await api(app, 'DELETE', `/api/v1/keys/${fresh.publicKey}`)
  t.same(deleted.json(), { publicKey: fresh.publicKey, deleted: true })
  t.equal(await composerStatus(app, fresh.publicKey, fresh.privateKey), 401)
  t.same((await api(app, 'GET', '/api/v1/keys')).json(), [])

  const token = await api(app, 'POST', '/api/v1/downloads-token')
  t.match(token.json(), { mageId: me.json().mageId, token: /^[0-9a-f]{40}$/ })
  t.equal((await app.inject({ url: '/products/downloads/info/files', headers: basic(token.json().mageId, token.json().token) })).statusCode, 200)
})

t.test('authentication: 401 with WWW-Authenticate and a JSON message; keys are not accepted as a login', async (t) => {
  const { app } = await withAccounts(t)
  const none = await app.inject({ url: '/api/v1/keys' })
  t.equal(none.statusCode, 401)
  t.match(none.headers['www-authenticate'], /^Basic realm="Packyard account API"/)
  t.match(none.headers['content-type'], /^application\/json/)
  t.match(JSON.parse(none.body), { code: 'UNAUTHORIZED', message: /username and password/ })
  const wrong = await api(app, 'GET', '/api/v1/keys', { password: 'wrong password' })
  t.equal(wrong.status, 401)
  t.match(wrong.headers['www-authenticate'], /^Basic realm=/)
  t.equal((await api(app, 'GET', '/api/v1/keys', { user: 'nobody' })).status, 401)
  const key = app.ctx.keys.create(app.ctx.accounts.get('alice').id, 'laptop')
  t.equal((await api(app, 'GET', '/api/v1/keys', { user: key.key.publicKey, password: key.privateKey })).status, 401)
  const bearer = await app.inject({ url: '/api/v1/keys', headers: { authorization: 'Bearer x' } })
  t.equal(bearer.statusCode, 401)
})

t.test('cross-site browser requests are refused; same-origin and curl (no Origin) are fine', async (t) => {
  const { app } = await withAccounts(t)
  const evil = await api(app, 'POST', '/api/v1/keys', { body: { name: 'x' }, headers: { origin: 'https://evil.example' } })
  t.equal(evil.status, 403)
  t.same((await api(app, 'GET', '/api/v1/keys')).json(), [])
  const same = await api(app, 'POST', '/api/v1/keys', { body: { name: 'x' }, headers: { origin: 'http://localhost:80', host: 'localhost:80' } })
  t.equal(same.status, 201)
})

t.test('one account can never see or change another account\'s keys through the JSON API', async (t) => {
  const { app } = await withAccounts(t)
  const key = (await api(app, 'POST', '/api/v1/keys', { body: { name: 'alice laptop' } })).json()
  t.same((await api(app, 'GET', '/api/v1/keys', { user: 'bob' })).json(), [], 'bob lists only his own keys')
  const attempts: Array<['GET' | 'POST' | 'PATCH' | 'DELETE', string, unknown?]> = [
    ['GET', `/api/v1/keys/${key.publicKey}`],
    ['PATCH', `/api/v1/keys/${key.publicKey}`, { name: 'pwned' }],
    ['POST', `/api/v1/keys/${key.publicKey}/disable`],
    ['POST', `/api/v1/keys/${key.publicKey}/enable`],
    ['POST', `/api/v1/keys/${key.publicKey}/regenerate`],
    ['POST', `/api/v1/keys/${key.publicKey}/reveal`],
    ['DELETE', `/api/v1/keys/${key.publicKey}`]
  ]
  for (const [method, url, body] of attempts) {
    const res = await api(app, method, url, { user: 'bob', body })
    t.equal(res.status, 404, `${method} ${url}`)
    t.notMatch(res.body, key.privateKey)
  }
  const after = (await api(app, 'GET', `/api/v1/keys/${key.publicKey}`)).json()
  t.match(after, { name: 'alice laptop', enabled: true, publicKey: key.publicKey })
  t.equal(await composerStatus(app, key.publicKey, key.privateKey), 200)
})

t.test('failed API logins share the login throttle: 429 with Retry-After', async (t) => {
  const { app } = await withAccounts(t)
  for (let i = 0; i < 5; i++) t.equal((await api(app, 'GET', '/api/v1/keys', { password: `guess ${i}`, remoteAddress: '203.0.113.5' })).status, 401)
  const throttled = await api(app, 'GET', '/api/v1/keys', { remoteAddress: '203.0.113.5' })
  t.equal(throttled.status, 429)
  t.match(throttled.headers['retry-after'], /^\d+$/)
  t.match(throttled.json(), { code: 'TOO_MANY_REQUESTS' })
  t.equal((await api(app, 'GET', '/api/v1/keys', { remoteAddress: '198.51.100.1' })).status, 200, 'the owner elsewhere is fine')
})

t.test('reveal over the API when the option is on; the database still holds no private key', async (t) => {
  const { app, dataDir } = await withAccounts(t, { keyRevealKey: REVEAL_KEY })
  t.equal((await api(app, 'GET', '/api/v1/account')).json().keyReveal, true)
  const key = (await api(app, 'POST', '/api/v1/keys', { body: { name: 'ci' } })).json()
  t.equal(key.revealable, true)
  const shown = await api(app, 'POST', `/api/v1/keys/${key.publicKey}/reveal`)
  t.same(shown.json(), { name: 'ci', publicKey: key.publicKey, privateKey: key.privateKey })
  t.equal((await api(app, 'POST', `/api/v1/keys/${key.publicKey}/reveal`, { password: 'wrong password' })).status, 401)
  const db = path.join(dataDir, 'packyard.sqlite')
  const bytes = Buffer.concat([db, `${db}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)))
  t.notOk(bytes.includes(Buffer.from(key.privateKey)))
})

/** The README's JSON API section, run with real curl against a real server, as written (host, password and key filled in). */
t.test('README: the JSON API curl examples work as written', async (t) => {
  if (!requireTools(t, 'curl')) return
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const section = /^## JSON API\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1] ?? /^## JSON API\n([\s\S]*)$/m.exec(readme)?.[1]
  t.ok(section, 'the README has a JSON API section')
  if (section === undefined) return
  const commands = [...section.matchAll(/^\s*(curl .+)$/gm)].map((m) => m[1]!.trim())
  t.ok(commands.length >= 8, `${commands.length} curl examples`)
  const dataDir = tempDir(t)
  await cliJson(dataDir, ['account', 'create', 'alice', '--password-stdin'], { stdin: `${PASSWORD}\n` })
  const server = await startServer(t, dataDir)
  const work = tempDir(t)
  let publicKey = ''
  const covered = new Set<string>()
  for (const written of commands) {
    const command = written
      .replaceAll('http://localhost:8080', server.url)
      .replaceAll('alice:PASSWORD', `alice:'${PASSWORD}'`)
      .replaceAll('PUBLIC_KEY', publicKey)
    const res = spawnSync('sh', ['-c', command.replace(/^curl /, 'curl -sS --fail-with-body ')], { cwd: work, encoding: 'utf8' })
    t.equal(res.status, 0, `${written}\n${res.stdout}${res.stderr}`)
    const m = /"publicKey":\s*"([0-9a-f]{32})"/.exec(res.stdout)
    if (m !== null && /POST|regenerate/.test(written)) publicKey = m[1]!
    for (const action of ['GET', 'POST', 'PATCH', 'DELETE', 'regenerate', 'disable', 'enable']) if (written.includes(action)) covered.add(action)
    if (!written.includes(' -X ')) covered.add('GET')
  }
  t.same([...covered].sort(), ['DELETE', 'GET', 'PATCH', 'POST', 'disable', 'enable', 'regenerate'], 'every key action has an example')
})

t.test('parallel wrong passwords over the API: at most 5 are checked, the rest get 429; the owner elsewhere is fine', async (t) => {
  const { app, log } = await withAccounts(t)
  const answers = await Promise.all(Array.from({ length: 20 }, async (_, i) =>
    await api(app, 'GET', '/api/v1/account', { password: `parallel guess ${i}`, remoteAddress: '203.0.113.40' })))
  const checked = answers.filter((r) => r.status === 401)
  const throttled = answers.filter((r) => r.status === 429)
  t.ok(checked.length <= 5, `${checked.length} passwords checked`)
  t.equal(checked.length + throttled.length, 20, 'every other answer is 429')
  t.ok(throttled.every((r) => /^\d+$/.test(String(r.headers['retry-after']))), 'with Retry-After')
  t.ok(throttled.every((r) => r.json().code === 'TOO_MANY_REQUESTS'))
  t.equal(log().split('\n').filter((l) => l.includes('"API login failed"')).length, checked.length, 'one failure logged per checked password')
  t.equal((await api(app, 'GET', '/api/v1/account', { remoteAddress: '203.0.113.40' })).status, 429, 'even the right password waits here')
  t.equal((await api(app, 'GET', '/api/v1/account', { remoteAddress: '198.51.100.40' })).status, 200, 'the owner from another address is fine')
})

t.test('a successful API login resets the count; parallel requests with the right password', async (t) => {
  const { app } = await withAccounts(t)
  const address = '203.0.113.41'
  for (let i = 0; i < 4; i++) t.equal((await api(app, 'GET', '/api/v1/keys', { password: `guess ${i}`, remoteAddress: address })).status, 401)
  t.equal((await api(app, 'GET', '/api/v1/keys', { remoteAddress: address })).status, 200)
  for (let i = 0; i < 4; i++) t.equal((await api(app, 'GET', '/api/v1/keys', { password: `again ${i}`, remoteAddress: address })).status, 401, 'the count started again')
  t.equal((await api(app, 'GET', '/api/v1/keys', { remoteAddress: address })).status, 200)
  // At most 5 checks per username and address run at once; the others are told to retry in a second.
  const parallel = await Promise.all(Array.from({ length: 8 }, async () => await api(app, 'GET', '/api/v1/keys', { remoteAddress: '198.51.100.41' })))
  t.equal(parallel.filter((r) => r.status === 200).length, 5)
  t.same(parallel.filter((r) => r.status !== 200).map((r) => [r.status, r.headers['retry-after']]), [[429, '1'], [429, '1'], [429, '1']])
  t.equal((await api(app, 'GET', '/api/v1/keys', { remoteAddress: '198.51.100.41' })).status, 200, 'and the retry works')
})
