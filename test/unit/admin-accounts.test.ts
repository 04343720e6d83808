import t, { type Test } from 'tap'
import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { basic, buildTestApp, cliInProcess, cliJsonQuick, tempDir, writePackageZip } from '../helpers/harness.js'
import { browser, textOf } from '../helpers/web.js'

type Json = Record<string, any>

const SUSPENDED = /This account is suspended\. Contact the vendor/
// A pair as Magento Marketplace issues them: two 32-character lowercase hex strings.
const MAGENTO = { publicKey: '0a1b2c3d4e5f60718293a4b5c6d7e8f9', privateKey: 'f9e8d7c6b5a4938271605f4e3d2c1b0a' }

async function setup (t: Test) {
  const built = await buildTestApp(t, { publicUrl: undefined, webhookPollMs: 60_000 })
  const { app } = built
  const admin = app.ctx.apiTokens.create('ops', 'admin').secret
  const publisher = app.ctx.apiTokens.create('ci', 'publish').secret
  const call = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, token: string | null = admin) => {
    const res = await app.inject({
      method,
      url: `/api/v1/admin${url}`,
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
      ...(body === undefined ? {} : { payload: body as Json })
    })
    return { status: res.statusCode, headers: res.headers, body: res.body, json: (): any => JSON.parse(res.body) }
  }
  const work = tempDir(t)
  const publish = async (name: string, version: string, access: 'public' | 'restricted' = 'public') =>
    await app.ctx.catalog.publish(await writePackageZip(work, { name, version, description: `${name} for the admin API tests` }), { access })
  return { ...built, admin, publisher, call, publish }
}

interface Raw { status: number, headers: Record<string, string | string[] | undefined>, body: string }

/** A request over a real socket: what the fast lane (routes/composer-fast-lane.ts) sees first. */
function overSocket (port: number, path: string, headers: Record<string, string>): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: 'packages.test', ...headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function listen (app: FastifyInstance): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return (app.server.address() as AddressInfo).port
}

t.test('every route needs an admin API token: 401 without one, 403 with a publish token', async (t) => {
  const { call, publisher } = await setup(t)
  const key = 'a'.repeat(32)
  const routes: Array<['GET' | 'POST' | 'PATCH' | 'DELETE', string, unknown?]> = [
    ['GET', '/accounts'],
    ['POST', '/accounts', { username: 'alice' }],
    ['GET', '/accounts/alice'],
    ['PATCH', '/accounts/alice', { email: 'a@example.com' }],
    ['DELETE', '/accounts/alice'],
    ['POST', '/accounts/alice/disable'],
    ['POST', '/accounts/alice/enable'],
    ['GET', '/accounts/alice/keys'],
    ['POST', '/accounts/alice/keys', { name: 'ci' }],
    ['POST', '/accounts/alice/keys/import', { name: 'm2', ...MAGENTO }],
    ['GET', '/accounts/alice/downloads'],
    ['GET', `/keys/${key}`],
    ['PATCH', `/keys/${key}`, { name: 'x' }],
    ['DELETE', `/keys/${key}`],
    ['POST', `/keys/${key}/disable`],
    ['POST', `/keys/${key}/enable`],
    ['POST', `/keys/${key}/regenerate`]
  ]
  for (const [method, url, body] of routes) {
    const anonymous = await call(method, url, body, null)
    t.equal(anonymous.status, 401, `${method} ${url} without a token`)
    t.match(anonymous.headers['www-authenticate'], /^Bearer realm=/)
    t.match(anonymous.json(), { code: 'UNAUTHORIZED', message: /API token required/ })
    t.equal((await call(method, url, body, 'pyk_' + '0'.repeat(40))).status, 401, `${method} ${url} with an unknown token`)
    const publishing = await call(method, url, body, publisher)
    t.equal(publishing.status, 403, `${method} ${url} with a publish token`)
    t.match(publishing.json(), { code: 'FORBIDDEN', message: /scope publish; this needs admin/ })
  }
})

t.test('accounts: create, list, read, update, 400, 404 and 409', async (t) => {
  const { app, call, admin } = await setup(t)
  const created = await call('POST', '/accounts', { username: 'alice', email: 'alice@example.com', password: 'a long enough password' })
  t.equal(created.status, 201)
  t.match(created.json(), { username: 'alice', mageId: /^MAG\d{9}$/, email: 'alice@example.com', createdAt: String, disabled: false, disabledAt: null })
  t.same(Object.keys(created.json()).sort(), ['createdAt', 'disabled', 'disabledAt', 'email', 'mageId', 'username'])
  t.equal((await call('POST', '/accounts', { username: 'bob' })).status, 201)

  t.same((await call('GET', '/accounts')).json().map((a: Json) => a.username), ['alice', 'bob'])
  t.same((await call('GET', '/accounts/alice')).json(), created.json())
  t.same((await call('GET', '/accounts/ALICE')).json(), created.json(), 'usernames are case-insensitive')

  const duplicate = await call('POST', '/accounts', { username: 'Alice' })
  t.equal(duplicate.status, 409)
  t.match(duplicate.json(), { code: 'CONFLICT', message: /already exists/ })

  for (const [what, body, message] of [
    ['a bad username', { username: '-x' }, /invalid username "-x"/],
    ['no username', { email: 'x@example.com' }, /username/],
    ['a bad email', { username: 'carol', email: 'not-an-email' }, /invalid email/],
    ['a short password', { username: 'carol', password: 'short' }, /password too short/],
    ['an unknown field', { username: 'carol', emial: 'c@example.com' }, /property name/],
    ['a number as username', { username: ['x'] }, /username/]
  ] as const) {
    const res = await call('POST', '/accounts', body)
    t.equal(res.status, 400, what)
    t.match(res.json(), { code: 'BAD_REQUEST', message }, what)
  }
  const broken = await app.inject({ method: 'POST', url: '/api/v1/admin/accounts', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, payload: '{"username":' })
  t.equal(broken.statusCode, 400, 'malformed JSON')
  t.equal((await call('GET', '/accounts/carol')).status, 404, 'nothing was created by a refused request')
  const badName = await call('GET', '/accounts/bad%20name')
  t.equal(badName.status, 400)
  t.match(badName.json(), { code: 'BAD_REQUEST', message: /username/ })
  for (const [method, url] of [['GET', '/accounts/nobody'], ['PATCH', '/accounts/nobody'], ['DELETE', '/accounts/nobody'], ['POST', '/accounts/nobody/disable'],
    ['POST', '/accounts/nobody/enable'], ['GET', '/accounts/nobody/keys'], ['POST', '/accounts/nobody/keys'], ['GET', '/accounts/nobody/downloads']] as const) {
    const body = method === 'PATCH' ? { email: 'n@example.com' } : url.endsWith('/keys') && method === 'POST' ? { name: 'x' } : undefined
    const res = await call(method, url, body)
    t.equal(res.status, 404, `${method} ${url}`)
    t.match(res.json(), { code: 'NOT_FOUND', message: 'account "nobody" not found' })
  }

  const updated = await call('PATCH', '/accounts/bob', { email: 'bob@example.com', password: 'bob has a new password' })
  t.equal(updated.status, 200)
  t.match(updated.json(), { username: 'bob', email: 'bob@example.com' })
  t.equal((await app.inject({ url: '/api/v1/account', headers: basic('bob', 'bob has a new password') })).statusCode, 200, 'the new password signs in')
  t.match((await call('PATCH', '/accounts/bob', { email: null })).json(), { email: null }, 'null removes the email')
  t.equal((await call('PATCH', '/accounts/bob', {})).status, 400, 'an empty change')
  t.equal((await call('PATCH', '/accounts/bob', { password: 'short' })).status, 400)
  t.equal((await call('PATCH', '/accounts/bob', { username: 'robert' })).status, 400, 'the username cannot be changed')
  t.equal((await call('GET', '/accounts/bob')).json().email, null, 'refused changes changed nothing')
})

t.test('keys: create, list, rename, disable, enable, regenerate, delete; the private key only in its answer', async (t) => {
  const { app, call, publish } = await setup(t)
  await publish('acme/widget', '1.0.0')
  await call('POST', '/accounts', { username: 'alice' })
  const created = await call('POST', '/accounts/alice/keys', { name: 'laptop' })
  t.equal(created.status, 201)
  const key = created.json()
  t.match(key, { username: 'alice', name: 'laptop', publicKey: /^[0-9a-f]{32}$/, privateKey: /^[0-9a-f]{32}$/, enabled: true, lastUsedAt: null })
  const packagesJson = (pair: { publicKey: string, privateKey: string }) =>
    app.inject({ url: '/packages.json', headers: basic(pair.publicKey, pair.privateKey) })
  t.equal((await packagesJson(key)).statusCode, 200)

  const list = (await call('GET', '/accounts/alice/keys')).json()
  t.equal(list.length, 1)
  t.notOk('privateKey' in list[0], 'a listing never shows the private key')
  t.notOk(JSON.stringify(list).includes(key.privateKey))
  t.match((await call('GET', `/keys/${key.publicKey}`)).json(), { username: 'alice', name: 'laptop', enabled: true })

  const renamed = await call('PATCH', `/keys/${key.publicKey}`, { name: 'ci server' })
  t.equal(renamed.status, 200)
  t.match(renamed.json(), { name: 'ci server', publicKey: key.publicKey })
  t.equal((await call('PATCH', `/keys/${key.publicKey}`, { name: '' })).status, 400)
  t.equal((await call('PATCH', `/keys/${key.publicKey}`, { name: 'x', enabled: false })).status, 400, 'unknown field')

  t.match((await call('POST', `/keys/${key.publicKey}/disable`)).json(), { enabled: false })
  t.equal((await packagesJson(key)).statusCode, 401)
  t.match((await call('POST', `/keys/${key.publicKey}/enable`)).json(), { enabled: true })
  t.equal((await packagesJson(key)).statusCode, 200)

  const regenerated = await call('POST', `/keys/${key.publicKey}/regenerate`)
  t.equal(regenerated.status, 200)
  const fresh = regenerated.json()
  t.match(fresh, { name: 'ci server', publicKey: /^[0-9a-f]{32}$/, privateKey: /^[0-9a-f]{32}$/ })
  t.not(fresh.publicKey, key.publicKey)
  t.equal((await packagesJson(key)).statusCode, 401, 'the old pair stops working')
  t.equal((await packagesJson(fresh)).statusCode, 200)
  t.equal((await call('GET', `/keys/${key.publicKey}`)).status, 404)

  t.equal((await call('DELETE', `/keys/${fresh.publicKey}`)).status, 204)
  t.equal((await packagesJson(fresh)).statusCode, 401)
  t.same((await call('GET', '/accounts/alice/keys')).json(), [])
  for (const [method, verb] of [['GET', ''], ['DELETE', ''], ['POST', '/disable'], ['POST', '/enable'], ['POST', '/regenerate']] as const) {
    const res = await call(method, `/keys/${fresh.publicKey}${verb}`)
    t.equal(res.status, 404, `${method} a deleted key${verb}`)
    t.match(res.json(), { code: 'NOT_FOUND' })
  }
  t.equal((await call('GET', '/keys/NOT-A-KEY')).status, 400, 'a malformed public key in the URL')
  t.equal((await call('POST', '/accounts/alice/keys', {})).status, 400, 'a key needs a name')
})

t.test('an imported Magento-style pair is stored hashed and authenticates; 409 and 400', async (t) => {
  const { app, call, dataDir, publish } = await setup(t)
  await publish('acme/widget', '1.0.0')
  await call('POST', '/accounts', { username: 'alice' })
  await call('POST', '/accounts', { username: 'bob' })
  const imported = await call('POST', '/accounts/alice/keys/import', { name: 'magento', ...MAGENTO })
  t.equal(imported.status, 201)
  t.match(imported.json(), { username: 'alice', name: 'magento', publicKey: MAGENTO.publicKey, enabled: true })
  t.notOk('privateKey' in imported.json(), 'the answer does not echo the private key')
  const res = await app.inject({ url: '/packages.json', headers: basic(MAGENTO.publicKey, MAGENTO.privateKey) })
  t.equal(res.statusCode, 200, 'the imported pair opens the repository')
  t.equal((await app.inject({ url: '/packages.json', headers: basic(MAGENTO.publicKey, 'e'.repeat(32)) })).statusCode, 401, 'only with its own private key')

  const again = await call('POST', '/accounts/bob/keys/import', { name: 'copy', publicKey: MAGENTO.publicKey, privateKey: 'e'.repeat(32) })
  t.equal(again.status, 409)
  t.match(again.json(), { code: 'CONFLICT', message: /already exists/ })
  t.same((await call('GET', '/accounts/bob/keys')).json(), [], 'nothing added to bob')

  for (const [what, pair] of [
    ['a short public key', { publicKey: 'abc', privateKey: MAGENTO.privateKey }],
    ['uppercase hex', { publicKey: MAGENTO.publicKey.toUpperCase().replace(/^0A/, '1A'), privateKey: MAGENTO.privateKey }],
    ['not hex', { publicKey: 'z'.repeat(32), privateKey: MAGENTO.privateKey }],
    ['a long private key', { publicKey: '1'.repeat(32), privateKey: 'a'.repeat(33) }]
  ] as const) {
    const r = await call('POST', '/accounts/bob/keys/import', { name: 'bad', ...pair })
    t.equal(r.status, 400, what)
    t.match(r.json(), { code: 'BAD_REQUEST', message: /32 lowercase hexadecimal/ }, what)
  }
  t.equal((await call('POST', '/accounts/bob/keys/import', { name: 'bad', publicKey: '1'.repeat(32) })).status, 400, 'no private key')
  t.equal((await call('POST', '/accounts/bob/keys/import', { name: 'bad', publicKey: '1'.repeat(32), privateKey: '2'.repeat(32), enabled: true })).status, 400, 'unknown field')
  t.equal((await call('POST', '/accounts/nobody/keys/import', { name: 'x', publicKey: '1'.repeat(32), privateKey: '2'.repeat(32) })).status, 404)

  // The CLI imports too, reading the private key from stdin.
  const viaCli = await cliJsonQuick(dataDir, ['key', 'import', 'bob', '--name', 'm2 shop', '--public-key', '3'.repeat(32)], { stdin: `${'4'.repeat(32)}\n` })
  t.same(Object.keys(viaCli).sort(), Object.keys(imported.json()).sort(), 'the CLI prints the API\'s shape')
  t.match(viaCli, { username: 'bob', name: 'm2 shop', publicKey: '3'.repeat(32), enabled: true })
  t.equal((await app.inject({ url: '/packages.json', headers: basic('3'.repeat(32), '4'.repeat(32)) })).statusCode, 200)
  const dup = await cliInProcess(dataDir, ['key', 'import', 'alice', '--name', 'x', '--public-key', MAGENTO.publicKey], { stdin: MAGENTO.privateKey })
  t.equal(dup.code, 1)
  t.match(dup.stderr, /^packyard: access key "0a1b2c3d4e5f60718293a4b5c6d7e8f9" already exists\n$/)
})

t.test('a suspended account: every key and its downloads token get 401 saying so, at once; nothing is deleted; enabling restores it', async (t) => {
  const { app, call, dataDir, publish } = await setup(t)
  await publish('acme/widget', '1.0.0')
  await publish('acme/secret', '1.0.0', 'restricted')
  await call('POST', '/accounts', { username: 'alice', password: 'a long enough password' })
  await cliJsonQuick(dataDir, ['grant', 'alice', 'acme/secret'])
  const laptop = (await call('POST', '/accounts/alice/keys', { name: 'laptop' })).json()
  const disabledKey = (await call('POST', '/accounts/alice/keys', { name: 'old' })).json()
  await call('POST', `/keys/${disabledKey.publicKey}/disable`)
  await call('POST', '/accounts/alice/keys/import', { name: 'magento', ...MAGENTO })
  const token = await cliJsonQuick(dataDir, ['token', 'regenerate', 'alice'])
  const hook = await app.ctx.webhooks.create({ url: 'https://93.184.216.34/hooks', events: ['account.disabled'] })
  const port = await listen(app)
  const pairs = [laptop, MAGENTO]
  const urls = ['/packages.json', '/p2/acme/widget.json', '/p2/acme/secret.json']

  const works = async (what: string) => {
    for (const pair of pairs) {
      for (const url of urls) {
        t.equal((await app.inject({ url, headers: basic(pair.publicKey, pair.privateKey) })).statusCode, 200, `${what}: ${url} through Fastify`)
        t.equal((await overSocket(port, url, basic(pair.publicKey, pair.privateKey))).status, 200, `${what}: ${url} over a socket`)
      }
    }
    t.equal((await app.inject({ url: '/products/downloads/info/help', headers: basic(token.mageId, token.token) })).statusCode, 200, `${what}: downloads token`)
  }
  const refused = async (what: string) => {
    for (const pair of [...pairs, disabledKey]) {
      for (const url of urls) {
        const viaFastify = await app.inject({ url, headers: basic(pair.publicKey, pair.privateKey) })
        t.equal(viaFastify.statusCode, 401, `${what}: ${url} through Fastify`)
        t.match(viaFastify.json(), { code: 'UNAUTHORIZED', message: SUSPENDED, warning: SUSPENDED })
        t.match(viaFastify.headers['www-authenticate'], /^Basic realm=/)
        const viaSocket = await overSocket(port, url, basic(pair.publicKey, pair.privateKey))
        t.equal(viaSocket.status, 401, `${what}: ${url} over a socket`)
        t.match(JSON.parse(viaSocket.body), { warning: SUSPENDED })
      }
    }
    const downloads = await app.inject({ url: '/products/downloads/info/help', headers: basic(token.mageId, token.token) })
    t.equal(downloads.statusCode, 401, `${what}: downloads token`)
    t.match(downloads.body, SUSPENDED)
    const api = await app.inject({ url: '/api/v1/account', headers: basic('alice', 'a long enough password') })
    t.equal(api.statusCode, 401, `${what}: account API`)
    t.match(api.json(), { message: SUSPENDED })
    const login = await browser(app).submit('/account/login', '/account/login', { username: 'alice', password: 'a long enough password' })
    t.equal(login.statusCode, 401, `${what}: login page`)
    t.match(textOf(login.body), SUSPENDED)
  }

  await works('before')
  // Warm every cache first, so the suspension must invalidate them.
  const suspended = await call('POST', '/accounts/alice/disable')
  t.equal(suspended.status, 200)
  t.match(suspended.json(), { username: 'alice', disabled: true, disabledAt: String })
  await refused('suspended over the API')
  t.match(app.ctx.webhooks.deliveries(hook.id), [{ event: 'account.disabled', status: 'pending' }], 'account.disabled was queued')
  t.match((await call('POST', '/accounts/alice/disable')).json(), { disabled: true, disabledAt: suspended.json().disabledAt }, 'disabling again keeps the first time')
  t.equal(app.ctx.webhooks.deliveries(hook.id).length, 1, 'and emits nothing new')

  // Nothing was deleted: keys, their states, the grant, the token.
  const keys = (await call('GET', '/accounts/alice/keys')).json()
  t.same(keys.map((k: Json) => [k.name, k.enabled]), [['laptop', true], ['old', false], ['magento', true]])
  t.ok(app.ctx.downloads.tokenCreatedAt(app.ctx.accounts.get('alice').id), 'the downloads token is kept')

  const restored = await call('POST', '/accounts/alice/enable')
  t.match(restored.json(), { disabled: false, disabledAt: null })
  await works('enabled again over the API')
  t.equal((await app.inject({ url: '/packages.json', headers: basic(disabledKey.publicKey, disabledKey.privateKey) })).statusCode, 401, 'a key disabled on its own stays disabled')

  // The same through the CLI, another connection to the database: the trigger moves the counter.
  const cliDisabled = await cliJsonQuick(dataDir, ['account', 'disable', 'alice'])
  // In this process the CLI's write can fall in the event-loop iteration of the last counter
  // read; a real request reaches the server through a later poll (repositories/changes.ts).
  await new Promise((resolve) => setImmediate(resolve))
  t.same(Object.keys(cliDisabled).sort(), Object.keys(suspended.json()).sort(), 'the CLI prints the API\'s shape')
  t.match(cliDisabled, { username: 'alice', disabled: true })
  await refused('suspended by the CLI')
  t.match((await call('GET', '/accounts/alice')).json(), { disabled: true })
  t.match(await cliJsonQuick(dataDir, ['account', 'enable', 'alice']), { username: 'alice', disabled: false, disabledAt: null })
  await new Promise((resolve) => setImmediate(resolve))
  await works('enabled again by the CLI')
  t.equal((await browser(app).submit('/account/login', '/account/login', { username: 'alice', password: 'a long enough password' })).statusCode, 303, 'the login page signs in again')
})

t.test('a suspended account\'s keys are not throttled for being refused', async (t) => {
  const { app, call } = await setup(t)
  await call('POST', '/accounts', { username: 'alice' })
  const key = (await call('POST', '/accounts/alice/keys', { name: 'ci' })).json()
  await call('POST', '/accounts/alice/disable')
  for (let i = 0; i < 30; i++) {
    const res = await app.inject({ url: '/packages.json', headers: basic(key.publicKey, key.privateKey) })
    if (res.statusCode !== 401) { t.fail(`attempt ${i}: ${res.statusCode}`); break }
  }
  await call('POST', '/accounts/alice/enable')
  t.equal((await app.inject({ url: '/packages.json', headers: basic(key.publicKey, key.privateKey) })).statusCode, 200)
})

t.test('deleting an account removes its keys and grants; the CLI deletes too', async (t) => {
  const { app, call, dataDir, publish } = await setup(t)
  await publish('acme/secret', '1.0.0', 'restricted')
  await call('POST', '/accounts', { username: 'alice' })
  await cliJsonQuick(dataDir, ['grant', 'alice', 'acme/secret'])
  const key = (await call('POST', '/accounts/alice/keys', { name: 'ci' })).json()
  t.equal((await app.inject({ url: '/p2/acme/secret.json', headers: basic(key.publicKey, key.privateKey) })).statusCode, 200)

  t.equal((await call('DELETE', '/accounts/alice')).status, 204)
  t.equal((await call('GET', '/accounts/alice')).status, 404)
  t.equal((await call('GET', `/keys/${key.publicKey}`)).status, 404, 'its keys went with it')
  t.equal((await app.inject({ url: '/packages.json', headers: basic(key.publicKey, key.privateKey) })).statusCode, 401)

  // A new account of the same name starts with nothing: the grant went too.
  await call('POST', '/accounts', { username: 'alice' })
  const next = (await call('POST', '/accounts/alice/keys', { name: 'ci' })).json()
  t.equal((await app.inject({ url: '/p2/acme/secret.json', headers: basic(next.publicKey, next.privateKey) })).statusCode, 404)

  t.same(await cliJsonQuick(dataDir, ['account', 'delete', 'alice']), { username: 'alice', deleted: true })
  t.equal((await call('GET', '/accounts/alice')).status, 404)
  const missing = await cliInProcess(dataDir, ['account', 'delete', 'alice'])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /^packyard: account "alice" not found\n$/)
  const human = await cliInProcess(dataDir, ['account', 'disable', 'nobody'])
  t.match(human.stderr, /account "nobody" not found/)
})

t.test('install counts per account, package and version from notify-batch', async (t) => {
  const { app, call, publish } = await setup(t)
  await publish('acme/widget', '1.0.0')
  await publish('acme/widget', '1.1.0')
  await publish('acme/tool', '2.0.0')
  await publish('acme/secret', '1.0.0', 'restricted')
  await call('POST', '/accounts', { username: 'alice' })
  await call('POST', '/accounts', { username: 'bob' })
  const alice = (await call('POST', '/accounts/alice/keys', { name: 'ci' })).json()
  const bob = (await call('POST', '/accounts/bob/keys', { name: 'ci' })).json()
  t.same((await call('GET', '/accounts/alice/downloads')).json(), [])

  const notify = async (pair: Json, downloads: Array<{ name: string, version: string }>) => {
    const res = await app.inject({ method: 'POST', url: '/downloads/', headers: basic(pair.publicKey, pair.privateKey), payload: { downloads } })
    t.equal(res.statusCode, 200)
  }
  await notify(alice, [{ name: 'acme/widget', version: '1.0.0.0' }, { name: 'acme/tool', version: '2.0.0.0' }])
  await notify(alice, [{ name: 'acme/widget', version: '1.0.0.0' }, { name: 'acme/widget', version: '1.1.0.0' }])
  // Not counted: an unknown version, a package alice may not see.
  await notify(alice, [{ name: 'acme/widget', version: '9.9.9.9' }, { name: 'acme/secret', version: '1.0.0.0' }])
  await notify(bob, [{ name: 'acme/widget', version: '1.0.0.0' }])

  const counts = await call('GET', '/accounts/alice/downloads')
  t.equal(counts.status, 200)
  t.same(counts.json(), [
    { package: 'acme/tool', version: '2.0.0', count: 1 },
    { package: 'acme/widget', version: '1.0.0', count: 2 },
    { package: 'acme/widget', version: '1.1.0', count: 1 }
  ])
  t.same((await call('GET', '/accounts/bob/downloads')).json(), [{ package: 'acme/widget', version: '1.0.0', count: 1 }])
})
