import t, { type Test } from 'tap'
import { createHmac, timingSafeEqual } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { cliJsonQuick, runCli, runCliQuick, startServer, tempDir, writePackageZip, type ServerProcess } from '../helpers/harness.js'

interface Received { event: string, delivery: string, signature: string, body: string, json: any }

/** A real webhook receiver on 127.0.0.1 that can go down (connection refused) and come back on the same port. */
async function receiver (t: Test) {
  const received: Received[] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      received.push({
        event: String(req.headers['packyard-event']),
        delivery: String(req.headers['packyard-delivery']),
        signature: String(req.headers['packyard-signature']),
        body,
        json: JSON.parse(body)
      })
      res.writeHead(204).end()
    })
  })
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  await listen(0)
  const port = (server.address() as AddressInfo).port
  const down = () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() })
  t.teardown(() => { if (server.listening) return down() })
  return { url: `http://127.0.0.1:${port}/hook`, received, down, up: () => listen(port) }
}

/** HMAC-SHA256 of the exact body bytes with the secret, as a receiver checks it. */
function validSignature (secret: string, r: Received): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`)
  const got = Buffer.from(r.signature)
  return got.length === expected.length && timingSafeEqual(got, expected)
}

async function until<T> (what: string, fn: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const ENV = {
  PACKYARD_WEBHOOK_ALLOW_PRIVATE: 'true',
  PACKYARD_WEBHOOK_POLL_MS: '100',
  PACKYARD_WEBHOOK_BACKOFF_MS: '200',
  PACKYARD_WEBHOOK_TIMEOUT_MS: '2000',
  PACKYARD_WEBHOOK_MAX_ATTEMPTS: '30'
}

async function adminCall (server: ServerProcess, token: string, method: string, url: string, body?: unknown): Promise<{ status: number, json: any }> {
  const res = await fetch(`${server.url}${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await res.text()
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) }
}

t.test('every event arrives once, signed, with no secret in it', async (t) => {
  const dataDir = tempDir(t)
  const hooks = await receiver(t)
  const token = (await cliJsonQuick(dataDir, ['api-token', 'create', 'ops', '--scope', 'admin'])).token
  const server = await startServer(t, dataDir, { env: ENV })
  const created = await adminCall(server, token, 'POST', '/api/v1/admin/webhooks', {
    url: hooks.url,
    events: ['package.published', 'package.access_changed', 'grant.changed', 'account.created', 'key.created', 'key.regenerated', 'key.disabled', 'key.enabled', 'key.deleted']
  })
  t.equal(created.status, 201)
  const secret: string = created.json.secret

  // Every change is made by the CLI in this process: another connection than the server's.
  await cliJsonQuick(dataDir, ['account', 'create', 'alice'])
  const key = await cliJsonQuick(dataDir, ['key', 'create', 'alice', '--name', 'ci'])
  const again = await cliJsonQuick(dataDir, ['key', 'regenerate', key.publicKey])
  await cliJsonQuick(dataDir, ['key', 'disable', again.publicKey])
  await cliJsonQuick(dataDir, ['key', 'enable', again.publicKey])
  await cliJsonQuick(dataDir, ['key', 'delete', again.publicKey])
  const zip = await writePackageZip(dataDir, { name: 'acme/widget', version: '1.0.0' })
  await cliJsonQuick(dataDir, ['publish', zip])
  await cliJsonQuick(dataDir, ['package', 'access', 'acme/widget', 'public'])
  await cliJsonQuick(dataDir, ['grant', 'alice', 'acme/widget'])
  await cliJsonQuick(dataDir, ['revoke', 'alice', 'acme/widget'])

  const expected = ['account.created', 'key.created', 'key.regenerated', 'key.disabled', 'key.enabled', 'key.deleted', 'package.published', 'package.access_changed', 'grant.changed', 'grant.changed']
  await until('every event', () => hooks.received.length >= expected.length)
  await sleep(500) // nothing more may arrive
  t.equal(hooks.received.length, expected.length, 'each change delivered once')
  t.same(hooks.received.map((r) => r.event).sort(), [...expected].sort())
  t.equal(new Set(hooks.received.map((r) => r.delivery)).size, expected.length, 'each delivery has its own Packyard-Delivery id')
  for (const r of hooks.received) {
    t.ok(validSignature(secret, r), `${r.event}: Packyard-Signature is the HMAC of the body`)
    t.equal(r.json.event, r.event)
    t.equal(r.json.id, r.delivery)
    t.notOk(r.body.includes(key.privateKey) || r.body.includes(again.privateKey) || r.body.includes(secret) || r.body.includes(token), `${r.event} carries no secret`)
  }
  const byEvent = (e: string) => hooks.received.filter((r) => r.event === e).map((r) => r.json.data)
  t.same(byEvent('key.created'), [{ username: 'alice', name: 'ci', publicKey: key.publicKey }])
  t.same(byEvent('key.regenerated'), [{ username: 'alice', name: 'ci', publicKey: again.publicKey, previousPublicKey: key.publicKey }])
  t.match(byEvent('package.published'), [{ name: 'acme/widget', version: '1.0.0', access: 'restricted' }])
  t.same(byEvent('package.access_changed'), [{ name: 'acme/widget', access: 'public', previousAccess: 'restricted' }])
  t.same(byEvent('grant.changed').sort((a, b) => Number(b.granted) - Number(a.granted)), [
    { username: 'alice', package: 'acme/widget', granted: true, rule: { constraint: null, updatesUntil: null, minimumStability: null } },
    { username: 'alice', package: 'acme/widget', granted: false, rule: null }
  ])
  t.match(byEvent('account.created'), [{ username: 'alice', mageId: /^MAG\d{9}$/ }])

  const log = await adminCall(server, token, 'GET', `/api/v1/admin/webhooks/${created.json.id}/deliveries`)
  t.equal(log.json.length, expected.length)
  t.ok(log.json.every((d: any) => d.status === 'delivered' && d.attempts === 1 && d.lastStatus === 204))
})

t.test('with the receiver down, deliveries are retried, survive a restart, and arrive exactly once', async (t) => {
  const dataDir = tempDir(t)
  const hooks = await receiver(t)
  await cliJsonQuick(dataDir, ['account', 'create', 'alice'])
  const zip = await writePackageZip(dataDir, { name: 'acme/widget', version: '1.0.0' })
  await cliJsonQuick(dataDir, ['publish', zip])
  const refused = await runCliQuick(dataDir, ['webhook', 'add', hooks.url, '--event', 'grant.changed'])
  t.equal(refused.code, 1, 'the CLI refuses a private receiver without PACKYARD_WEBHOOK_ALLOW_PRIVATE')
  const added = await runCli(dataDir, ['--json', 'webhook', 'add', hooks.url, '--event', 'grant.changed'], { env: ENV })
  t.equal(added.code, 0, added.stderr)
  const secret: string = added.json.secret

  let server = await startServer(t, dataDir, { env: ENV })
  await hooks.down()
  await cliJsonQuick(dataDir, ['grant', 'alice', 'acme/widget'])
  const deliveries = async () => (await runCli(dataDir, ['--json', 'webhook', 'deliveries', String(added.json.id)])).json as any[]
  let pending: any
  for (const end = Date.now() + 15_000; Date.now() < end;) {
    pending = (await deliveries())[0]
    if (pending?.attempts >= 3) break
    await sleep(200)
  }
  t.match(pending, { event: 'grant.changed', status: 'pending', lastError: /ECONNREFUSED|connect/ }, 'failed attempts are recorded')
  t.ok(pending.attempts >= 3, `retried (${String(pending.attempts)} attempts so far)`)

  // Stop the server while the delivery is still owed; the receiver comes back meanwhile.
  t.equal(await server.stop(), 0)
  await hooks.up()
  await sleep(1000)
  t.equal(hooks.received.length, 0, 'nothing is sent while no server runs')

  server = await startServer(t, dataDir, { env: ENV })
  // Backoff may have pushed the next attempt a few seconds out.
  await until('the delivery after the restart', () => hooks.received.length > 0, 30_000)
  await sleep(1500)
  t.equal(hooks.received.length, 1, 'delivered exactly once')
  const r = hooks.received[0]!
  t.equal(r.event, 'grant.changed')
  t.equal(r.delivery, pending.id, 'the same Packyard-Delivery id as the failed attempts')
  t.ok(validSignature(secret, r))
  t.same(r.json.data, { username: 'alice', package: 'acme/widget', granted: true, rule: { constraint: null, updatesUntil: null, minimumStability: null } })
  const done = (await deliveries())[0]
  t.match(done, { status: 'delivered', lastStatus: 204, lastError: null })
  t.ok(done.attempts > pending.attempts, 'attempts keep counting across the restart')
  await server.stop()
})

t.test('a change made by the CLI in another process while the server runs is delivered within seconds', async (t) => {
  const dataDir = tempDir(t)
  const hooks = await receiver(t)
  await cliJsonQuick(dataDir, ['account', 'create', 'alice'])
  const server = await startServer(t, dataDir, { env: ENV })
  const added = await runCli(dataDir, ['--json', 'webhook', 'add', hooks.url, '--event', 'key.created'], { env: ENV })
  t.equal(added.code, 0, added.stderr)
  const started = Date.now()
  const key = await runCli(dataDir, ['--json', 'key', 'create', 'alice', '--name', 'laptop'])
  t.equal(key.code, 0, key.stderr)
  await until('the key.created delivery', () => hooks.received.length > 0, 5000)
  t.ok(Date.now() - started < 5000, `delivered ${Date.now() - started} ms after the CLI started`)
  t.ok(validSignature(added.json.secret, hooks.received[0]!))
  t.same(hooks.received[0]!.json.data, { username: 'alice', name: 'laptop', publicKey: key.json.publicKey })
  t.equal(await server.stop(), 0)
  t.match(server.log(), /webhook delivered/, 'the log is flushed on shutdown')
  t.notOk(server.log().includes(added.json.secret), 'the server never logs the secret')
})
