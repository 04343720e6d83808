import t from 'tap'
import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { basic, buildTestApp, cliJsonQuick, tempDir, writePackageZip } from '../helpers/harness.js'

interface Raw { status: number, headers: Record<string, string | string[] | undefined>, body: Buffer }

function get (port: number, path: string, headers: Record<string, string>): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: 'packages.test', ...headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** The headers that carry meaning (Date, Connection and Keep-Alive are the socket's). */
const MEANINGFUL = ['content-type', 'content-length', 'content-encoding', 'vary', 'cache-control', 'last-modified', 'www-authenticate', 'retry-after']

// The metadata hot path answers on node:http before Fastify. Whatever it answers must be what
// the Fastify routes answer, byte for byte and header for header; what it does not answer
// must reach Fastify unchanged.
t.test('the fast lane and the Fastify routes give identical answers', async (t) => {
  const { app, log } = await buildTestApp(t, { publicUrl: undefined })
  const account = await app.ctx.accounts.create({ username: 'fay' })
  const { key, privateKey } = app.ctx.keys.create(account.id, 'laptop')
  const work = tempDir(t)
  for (let i = 0; i < 30; i++) {
    await app.ctx.catalog.publish(await writePackageZip(work, { name: `acme/pkg-${i}`, version: '1.0.0', description: `Package number ${i} of the fast lane test` }), { access: 'public' })
  }
  await app.ctx.catalog.publish(await writePackageZip(work, { name: 'acme/pkg-0', version: 'dev-main' }), {})
  await app.ctx.catalog.publish(await writePackageZip(work, { name: 'acme/hidden', version: '1.0.0' }), {})
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as AddressInfo).port
  const auth = basic(key.publicKey, privateKey)
  const lastModified = (await app.inject({ url: '/p2/acme/pkg-1.json', headers: auth })).headers['last-modified'] as string

  const cases: Array<[string, string, Record<string, string>]> = [
    ['packages.json', '/packages.json', auth],
    ['packages.json, gzip', '/packages.json', { ...auth, 'accept-encoding': 'gzip' }],
    ['packages.json, br', '/packages.json', { ...auth, 'accept-encoding': 'gzip, deflate, br' }],
    ['p2', '/p2/acme/pkg-1.json', auth],
    ['p2, gzip', '/p2/acme/pkg-1.json', { ...auth, 'accept-encoding': 'gzip' }],
    ['p2 ~dev', '/p2/acme/pkg-0~dev.json', auth],
    ['p2 ~dev that does not exist (404)', '/p2/acme/pkg-1~dev.json', auth],
    ['p2, not modified (304)', '/p2/acme/pkg-1.json', { ...auth, 'if-modified-since': lastModified }],
    ['p2 of a package the account may not see (404)', '/p2/acme/hidden.json', auth],
    ['p2 of an invalid name (404)', '/p2/ACME/x.json', auth],
    ['wrong private key (401)', '/packages.json', basic(key.publicKey, 'f'.repeat(32))],
    ['no credentials (401)', '/p2/acme/pkg-1.json', {}],
    ['query string', '/packages.json?x=1', auth]
  ]
  for (const [what, url, headers] of cases) {
    const viaSocket = await get(port, url, headers)
    const viaFastify = await app.inject({ url, headers: { host: 'packages.test', ...headers } })
    t.equal(viaSocket.status, viaFastify.statusCode, `${what}: status`)
    t.ok(viaSocket.body.equals(viaFastify.rawPayload), `${what}: identical body`)
    for (const h of MEANINGFUL) t.equal(viaSocket.headers[h], viaFastify.headers[h], `${what}: ${h}`)
  }
  const lines = log().split('\n').filter((l) => l.includes('"reqId":"fast-'))
  t.ok(lines.length >= 6, `the fast lane wrote access lines (${lines.length})`)
  t.match(JSON.parse(lines[0]!), { level: 30, msg: 'request', method: 'GET', url: '/packages.json', statusCode: 200, ip: '127.0.0.1' })
  const metrics = await app.inject({ url: '/metrics' })
  t.match(metrics.body, /packyard_http_requests_total\{method="GET",route="\/p2\/:vendor\/:file",status_code="304"\} 2/, 'fast and slow 304s are both counted')
})

t.test('behind a trusted proxy the fast lane stands aside (Fastify reads X-Forwarded-*)', async (t) => {
  const { app, log } = await buildTestApp(t, { trustProxy: true })
  const account = await app.ctx.accounts.create({ username: 'gus' })
  const { key, privateKey } = app.ctx.keys.create(account.id, 'ci')
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as AddressInfo).port
  const res = await get(port, '/packages.json', { ...basic(key.publicKey, privateKey), 'x-forwarded-proto': 'https', 'x-forwarded-host': 'repo.example.com' })
  t.equal(res.status, 200)
  t.match(JSON.parse(res.body.toString())['metadata-url'], /^https:\/\/repo\.example\.com\/p2\//, 'the forwarded host and scheme are used')
  t.notMatch(log(), /"reqId":"fast-/, 'answered by Fastify')
})

// The lane remembers Authorization headers that passed (no base64 or SHA-256 per request).
// A change written by another connection (here the CLI, with its own SQLite connection, as
// from another process) must still refuse that very header on the next request.
t.test('an accepted header is refused on the next request after its key or account changes elsewhere', async (t) => {
  const { app, dataDir } = await buildTestApp(t, { publicUrl: undefined })
  await cliJsonQuick(dataDir, ['account', 'create', 'hal'])
  let pair = await cliJsonQuick(dataDir, ['key', 'create', 'hal', '--name', 'ci'])
  const other = await cliJsonQuick(dataDir, ['key', 'create', 'hal', '--name', 'laptop'])
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as AddressInfo).port
  const status = async (p: { publicKey: string, privateKey: string }): Promise<number> => (await get(port, '/packages.json', basic(p.publicKey, p.privateKey))).status

  const steps: Array<[string, string[], number, number]> = [
    ['disable', ['key', 'disable', pair.publicKey], 401, 200],
    ['enable', ['key', 'enable', pair.publicKey], 200, 200],
    ['suspend the account', ['account', 'disable', 'hal'], 401, 401],
    ['reinstate the account', ['account', 'enable', 'hal'], 200, 200]
  ]
  let before = 200
  for (const [what, args, expected, otherExpected] of steps) {
    // A 200 here puts the header in the lane's memory before the change.
    t.equal(await status(pair), before, `${what}: before`)
    await cliJsonQuick(dataDir, args)
    before = expected
    t.equal(await status(pair), expected, `${what}: the same header on the next request`)
    t.equal(await status(other), otherExpected, `${what}: another key of the account`)
  }
  const old = pair
  t.equal(await status(old), 200, 'regenerate: accepted before')
  pair = await cliJsonQuick(dataDir, ['key', 'regenerate', old.publicKey])
  t.equal(await status(old), 401, 'regenerate: the old header is refused on the next request')
  t.equal(await status(pair), 200, 'regenerate: the new pair works')
  await cliJsonQuick(dataDir, ['key', 'delete', pair.publicKey])
  t.equal(await status(pair), 401, 'delete: refused on the next request')
  t.equal(await status(other), 200, 'the other key still works')
})

t.test('a p2 answer the lane remembers by path follows every change and each Host', async (t) => {
  const { app, dataDir } = await buildTestApp(t, { publicUrl: undefined })
  const work = tempDir(t)
  await cliJsonQuick(dataDir, ['account', 'create', 'alice'])
  const pair = await cliJsonQuick(dataDir, ['key', 'create', 'alice', '--name', 'laptop'])
  await cliJsonQuick(dataDir, ['publish', await writePackageZip(work, { name: 'acme/widget', version: '1.0.0' })])
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as AddressInfo).port
  const auth = basic(pair.publicKey, pair.privateKey)
  const path = '/p2/acme/widget.json'
  const versions = async (host = 'packages.test'): Promise<{ status: number, versions: string[], dist: string[] }> => {
    const res = await get(port, path, { ...auth, host })
    if (res.status !== 200) return { status: res.status, versions: [], dist: [] }
    const list = JSON.parse(res.body.toString()).packages['acme/widget'] as Array<{ version: string, dist: { url: string } }>
    return { status: 200, versions: list.map((v) => v.version), dist: list.map((v) => new URL(v.dist.url).host) }
  }

  t.equal((await versions()).status, 404, 'private and not granted: 404')
  await cliJsonQuick(dataDir, ['grant', 'alice', 'acme/widget'])
  t.same(await versions(), { status: 200, versions: ['1.0.0'], dist: ['packages.test'] }, 'grant: seen on the next request')
  t.same(await versions(), { status: 200, versions: ['1.0.0'], dist: ['packages.test'] }, 'asked again (remembered)')
  t.same(await versions('other.test:8080'), { status: 200, versions: ['1.0.0'], dist: ['other.test:8080'] }, 'another Host gets its own URLs')
  t.same(await versions(), { status: 200, versions: ['1.0.0'], dist: ['packages.test'] }, 'and the first Host its own again')
  await cliJsonQuick(dataDir, ['publish', await writePackageZip(work, { name: 'acme/widget', version: '1.1.0' })])
  t.same((await versions()).versions, ['1.1.0', '1.0.0'], 'publish: seen on the next request')
  await cliJsonQuick(dataDir, ['revoke', 'alice', 'acme/widget'])
  t.equal((await versions()).status, 404, 'revoke: 404 on the next request')
  await cliJsonQuick(dataDir, ['package', 'access', 'acme/widget', 'public'])
  t.same((await versions()).versions, ['1.1.0', '1.0.0'], 'made public: seen on the next request')
  const viaFastify = await app.inject({ url: path, headers: { host: 'packages.test', ...auth } })
  t.ok((await get(port, path, auth)).body.equals(viaFastify.rawPayload), 'the remembered bytes are the Fastify route\'s')
})
