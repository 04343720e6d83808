import t, { type Test } from 'tap'
import { existsSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, cliInProcess, tempDir } from '../helpers/harness.js'
import { isPrivateAddress } from '../../src/services/webhook-guard.js'
import type { ConfigInput } from '../../src/config.js'

type Json = Record<string, any>

async function withAdmin (t: Test, overrides: ConfigInput = {}) {
  const built = await buildTestApp(t, { webhookPollMs: 60_000, ...overrides })
  const token = built.app.ctx.apiTokens.create('ops', 'admin').secret
  const call = async (method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown, auth = `Bearer ${token}`) => {
    const res = await built.app.inject({ method, url, headers: auth === '' ? {} : { authorization: auth }, ...(body === undefined ? {} : { payload: body as Json }) })
    return { status: res.statusCode, headers: res.headers, json: (): any => JSON.parse(res.body) }
  }
  return { ...built, token, call }
}

/** The outbox as the operator sees it. */
function deliveries (app: FastifyInstance, id: number) {
  return app.ctx.webhooks.deliveries(id)
}

t.test('an admin token creates, lists and removes webhooks; the secret is shown once', async (t) => {
  const { app, call, dataDir } = await withAdmin(t)
  const created = await call('POST', '/api/v1/admin/webhooks', { url: 'https://93.184.216.34/hooks/packyard', events: ['package.published', 'key.created'] })
  t.equal(created.status, 201)
  const hook = created.json()
  t.match(hook, { id: Number, url: 'https://93.184.216.34/hooks/packyard', events: ['package.published', 'key.created'], secret: /^[0-9a-f]{64}$/ })
  t.same(Object.keys(hook).sort(), ['events', 'id', 'secret', 'url'])

  const list = await call('GET', '/api/v1/admin/webhooks')
  t.equal(list.status, 200)
  t.equal(list.json().length, 1)
  t.notOk('secret' in list.json()[0], 'a listing never shows the secret')
  t.notOk(JSON.stringify(list.json()).includes(hook.secret))

  // The secret is derived, not stored: it is in neither the database nor its WAL.
  const keyFile = path.join(dataDir, 'webhook.key')
  t.ok(existsSync(keyFile), 'the installation key file was created on first use')
  t.equal(statSync(keyFile).mode & 0o777, 0o600)
  for (const file of ['packyard.sqlite', 'packyard.sqlite-wal']) {
    const p = path.join(dataDir, file)
    if (existsSync(p)) t.notOk(readFileSync(p).includes(Buffer.from(hook.secret)), `${file} does not hold the secret`)
  }

  t.same((await call('GET', `/api/v1/admin/webhooks/${hook.id}/deliveries`)).json(), [])
  app.ctx.keys.create((await app.ctx.accounts.create({ username: 'alice' })).id, 'ci')
  const queued = deliveries(app, hook.id)
  t.equal(queued.length, 1, 'key.created was queued; account.created was not subscribed')
  t.match(queued[0], { event: 'key.created', status: 'pending', attempts: 0, id: /^[0-9a-f]{32}$/ })

  t.equal((await call('DELETE', `/api/v1/admin/webhooks/${hook.id}`)).status, 204)
  t.same((await call('GET', '/api/v1/admin/webhooks')).json(), [])
  t.equal((await call('DELETE', `/api/v1/admin/webhooks/${hook.id}`)).status, 404)
  t.equal((await call('GET', `/api/v1/admin/webhooks/${hook.id}/deliveries`)).status, 404)
})

t.test('the admin routes need an admin API token', async (t) => {
  const { app, call } = await withAdmin(t)
  const none = await call('GET', '/api/v1/admin/webhooks', undefined, '')
  t.equal(none.status, 401)
  t.match(none.headers['www-authenticate'], /^Bearer realm=/)
  t.equal((await call('GET', '/api/v1/admin/webhooks', undefined, 'Bearer pyk_0000000000000000000000000000000000000000')).status, 401)
  const publishOnly = app.ctx.apiTokens.create('ci', 'publish').secret
  t.equal((await call('POST', '/api/v1/admin/webhooks', { url: 'https://93.184.216.34/', events: ['key.created'] }, `Bearer ${publishOnly}`)).status, 403)
  t.same(app.ctx.webhooks.list(), [])
})

t.test('webhook URLs reaching loopback, private or link-local addresses are refused', async (t) => {
  const { call } = await withAdmin(t)
  for (const url of [
    'http://127.0.0.1:8080/hook', 'http://10.1.2.3/hook', 'http://172.16.0.1/', 'http://192.168.1.10/', 'http://169.254.169.254/latest/meta-data',
    'http://[::1]/hook', 'http://[fe80::1]/', 'http://[fd00::1]/', 'http://[::ffff:127.0.0.1]/', 'http://0.0.0.0/', 'http://2130706433/', 'http://localhost:9000/'
  ]) {
    const res = await call('POST', '/api/v1/admin/webhooks', { url, events: ['grant.changed'] })
    t.equal(res.status, 400, url)
    t.match(res.json(), { code: 'BAD_REQUEST', message: /webhook URL refused/ }, url)
  }
  t.same((await call('GET', '/api/v1/admin/webhooks')).json(), [])
  t.ok(isPrivateAddress('100.64.0.1'))
  t.notOk(isPrivateAddress('93.184.216.34'))
  t.notOk(isPrivateAddress('2606:4700::1111'))
})

t.test('PACKYARD_WEBHOOK_ALLOW_PRIVATE=true allows private receivers', async (t) => {
  const { call } = await withAdmin(t, { webhookAllowPrivate: true })
  for (const url of ['http://127.0.0.1:8080/hook', 'http://10.1.2.3/hook', 'http://169.254.10.10/', 'http://[::1]:9000/']) {
    t.equal((await call('POST', '/api/v1/admin/webhooks', { url, events: ['grant.changed'] })).status, 201, url)
  }
})

t.test('invalid webhook requests get 400 with a message', async (t) => {
  const { call } = await withAdmin(t)
  const cases: Array<[unknown, RegExp]> = [
    [{ url: 'https://93.184.216.34/', events: ['package.deleted'] }, /events/],
    [{ url: 'https://93.184.216.34/', events: [] }, /events/],
    [{ url: 'https://93.184.216.34/' }, /events/],
    [{ events: ['key.created'] }, /url/],
    [{ url: 'https://93.184.216.34/', events: ['key.created', 'key.created'] }, /duplicate|identical/],
    [{ url: 'ftp://93.184.216.34/', events: ['key.created'] }, /http or https/],
    [{ url: 'not a url', events: ['key.created'] }, /absolute/],
    [{ url: 'https://user:pw@93.184.216.34/', events: ['key.created'] }, /credentials/]
  ]
  for (const [body, message] of cases) {
    const res = await call('POST', '/api/v1/admin/webhooks', body)
    t.equal(res.status, 400, JSON.stringify(body))
    t.match(res.json().message, message, JSON.stringify(body))
  }
  t.equal((await call('DELETE', '/api/v1/admin/webhooks/abc')).status, 400)
  t.equal((await call('GET', '/api/v1/admin/webhooks/0/deliveries')).status, 400)
})

t.test('events are queued in the transaction of the change, with no secrets in them', async (t) => {
  const { app } = await withAdmin(t, { webhookAllowPrivate: true })
  const ctx = app.ctx
  const hook = await ctx.webhooks.create({ url: 'http://127.0.0.1:9/', events: ['account.created', 'key.created', 'key.regenerated', 'key.disabled', 'key.enabled', 'key.deleted', 'grant.changed'] })
  const alice = await ctx.accounts.create({ username: 'alice', password: 'correct horse battery' })
  const issued = ctx.keys.create(alice.id, 'ci')
  const again = ctx.keys.regenerate(issued.key.publicKey)
  ctx.keys.setEnabled(again.key.publicKey, false)
  ctx.keys.setEnabled(again.key.publicKey, false) // no change, no event
  ctx.keys.setEnabled(again.key.publicKey, true)
  ctx.keys.delete(again.key.publicKey)
  // A change that fails queues nothing.
  t.throws(() => ctx.grants.grant('alice', 'acme/missing'), /not found/)
  t.throws(() => ctx.keys.create(alice.id, ''), /invalid key name/)
  await t.rejects(ctx.accounts.create({ username: 'alice' }), /already exists/)

  const rows = app.ctx.webhooks.deliveries(hook.id).reverse()
  t.same(rows.map((d) => d.event), ['account.created', 'key.created', 'key.regenerated', 'key.disabled', 'key.enabled', 'key.deleted'])
  t.equal(new Set(rows.map((d) => d.id)).size, rows.length, 'each delivery has its own id')
  t.equal(rows.every((d) => d.status === 'pending' && d.attempts === 0), true)
  const stored = Buffer.concat(['packyard.sqlite', 'packyard.sqlite-wal']
    .map((f) => path.join(app.ctx.config.dataDir, f)).filter((f) => existsSync(f)).map((f) => readFileSync(f)))
  t.ok(stored.includes(Buffer.from(`"previousPublicKey":"${issued.key.publicKey}"`)), 'the payloads are in the database file')
  for (const secret of [issued.privateKey, again.privateKey]) t.notOk(stored.includes(Buffer.from(secret)), 'no private key in the outbox')
})

t.test('the webhook commands: add prints the secret once, list, remove', async (t) => {
  const dataDir = tempDir(t)
  const env = { PACKYARD_WEBHOOK_ALLOW_PRIVATE: 'true' }
  const added = await cliInProcess(dataDir, ['--json', 'webhook', 'add', 'http://127.0.0.1:8080/hook', '--event', 'grant.changed', '--event', 'package.published'], { env })
  t.equal(added.code, 0, added.stderr)
  t.match(added.json, { id: Number, url: 'http://127.0.0.1:8080/hook', events: ['grant.changed', 'package.published'], secret: /^[0-9a-f]{64}$/ })
  const human = await cliInProcess(dataDir, ['webhook', 'add', 'https://93.184.216.34/x', '--event', 'key.created'])
  t.equal(human.code, 0, human.stderr)
  t.match(human.stdout, /^added webhook \d+: https:\/\/93\.184\.216\.34\/x \(key\.created\)\nsecret: [0-9a-f]{64}\n/)

  const refused = await cliInProcess(dataDir, ['webhook', 'add', 'http://127.0.0.1:8080/hook', '--event', 'grant.changed'])
  t.equal(refused.code, 1)
  t.match(refused.stderr, /^packyard: webhook URL refused: .*PACKYARD_WEBHOOK_ALLOW_PRIVATE/)
  const noEvent = await cliInProcess(dataDir, ['webhook', 'add', 'https://93.184.216.34/x'])
  t.equal(noEvent.code, 1)
  t.match(noEvent.stderr, /name at least one event/)

  const list = await cliInProcess(dataDir, ['--json', 'webhook', 'list'])
  t.equal(list.json.length, 2)
  t.notOk(list.stdout.includes(added.json.secret))
  const removed = await cliInProcess(dataDir, ['--json', 'webhook', 'remove', String(added.json.id)])
  t.same(removed.json, { id: added.json.id, url: 'http://127.0.0.1:8080/hook', removed: true })
  t.equal((await cliInProcess(dataDir, ['webhook', 'remove', String(added.json.id)])).code, 1)
  t.equal((await cliInProcess(dataDir, ['webhook', 'remove', 'x'])).code, 1)
  t.equal((await cliInProcess(dataDir, ['--json', 'webhook', 'list'])).json.length, 1)
})
