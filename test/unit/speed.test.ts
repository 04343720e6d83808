import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, readdirSync, truncateSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { basic, buildTestApp, tempDir, writePackageZip } from '../helpers/harness.js'

async function setup (t: Parameters<typeof buildTestApp>[0], overrides: Parameters<typeof buildTestApp>[1] = {}) {
  const s = await buildTestApp(t, overrides)
  const alice = await s.app.ctx.accounts.create({ username: 'alice' })
  const bob = await s.app.ctx.accounts.create({ username: 'bob' })
  const a = s.app.ctx.keys.create(alice.id, 'laptop')
  const b = s.app.ctx.keys.create(bob.id, 'ci')
  const work = tempDir(t)
  for (let i = 0; i < 12; i++) {
    await s.app.ctx.catalog.publish(await writePackageZip(work, {
      name: 'acme/widget',
      version: `1.${i}.0`,
      description: 'A widget with a description long enough that compression pays off for its metadata',
      require: { php: '>=8.1', 'acme/base': '^1.0' },
      autoload: { 'psr-4': { 'Acme\\Widget\\': 'src/' } }
    }, { files: { 'src/Widget.php': `<?php // ${randomBytes(15_000).toString('base64')}` } }), { access: 'public' })
  }
  // Enough names that packages.json is worth compressing.
  for (let i = 0; i < 40; i++) {
    await s.app.ctx.catalog.publish(await writePackageZip(work, { name: `acme/module-${String(i).padStart(2, '0')}`, version: '1.0.0' }), { access: 'public' })
  }
  return {
    ...s,
    alice: basic(a.key.publicKey, a.privateKey),
    bob: basic(b.key.publicKey, b.privateKey),
    aliceKey: a.key.publicKey,
    wrongAlice: basic(a.key.publicKey, 'f'.repeat(32))
  }
}

t.test('throttle on failed key checks', async (t) => {
  const s = await setup(t, { trustProxy: true, keyThrottleWindowMs: 400 })
  const get = (headers: Record<string, string>, ip = '203.0.113.5') =>
    s.app.inject({ url: '/packages.json', headers, remoteAddress: ip })

  for (let i = 1; i <= 10; i++) {
    const res = await get(s.wrongAlice)
    t.equal(res.statusCode, 401, `failure ${i} is a plain 401`)
  }
  const throttled = await get(s.wrongAlice)
  t.equal(throttled.statusCode, 429, 'the 11th attempt is throttled')
  t.equal(throttled.headers['retry-after'], '1', 'Retry-After in whole seconds')
  t.equal(throttled.headers['content-type'], 'application/json')
  t.match(throttled.json(), { code: 'TOO_MANY_REQUESTS', warning: /Too many failed attempts/ }, 'a warning Composer prints')
  t.equal((await get(s.alice)).statusCode, 429, 'even the right private key is not checked while the key is blocked')

  t.equal((await get(s.bob)).statusCode, 200, 'another account\'s valid key from the same address works')
  t.equal((await get(s.alice, '198.51.100.7')).statusCode, 200, 'the same key from another address works')
  const viaProxy = await s.app.inject({ url: '/packages.json', headers: { ...s.alice, 'x-forwarded-for': '198.51.100.9' }, remoteAddress: '203.0.113.5' })
  t.equal(viaProxy.statusCode, 200, 'behind a trusted proxy the address is the X-Forwarded-For client')

  const metrics = await s.app.inject({ url: '/metrics' })
  t.match(metrics.body, /packyard_auth_throttled_total\{surface="composer"\} 2/, 'throttled answers are counted')
  t.match(metrics.body, /packyard_auth_failures_total\{surface="composer",reason="wrong_secret"\} 10/, 'failures are counted')

  await new Promise((resolve) => setTimeout(resolve, 900))
  t.equal((await get(s.alice)).statusCode, 200, 'after the block and a quiet window the key works from that address again')
  t.equal((await get(s.wrongAlice)).statusCode, 401, 'and a wrong secret is an ordinary 401 again')
})

t.test('one address failing with many public keys is throttled as a whole, but a correct pair still passes', async (t) => {
  const s = await setup(t)
  for (let i = 0; i < 100; i++) {
    const res = await s.app.inject({ url: '/packages.json', headers: basic(i.toString(16).padStart(32, '0'), 'e'.repeat(32)), remoteAddress: '203.0.113.66' })
    if (res.statusCode !== 401) t.fail(`attempt ${i}: ${res.statusCode}`)
  }
  const next = await s.app.inject({ url: '/packages.json', headers: basic('ab'.repeat(16), 'e'.repeat(32)), remoteAddress: '203.0.113.66' })
  t.equal(next.statusCode, 429, 'a new unknown key from the spraying address is throttled')
  t.ok(Number(next.headers['retry-after']) > 0)
  t.equal((await s.app.inject({ url: '/packages.json', headers: s.alice, remoteAddress: '203.0.113.66' })).statusCode, 200, 'a valid pair from that address still works')
})

t.test('archives answer Range requests', async (t) => {
  const s = await setup(t)
  const p2 = await s.app.inject({ url: '/p2/acme/widget.json', headers: s.alice })
  const dist = p2.json().packages['acme/widget'][0].dist
  const url = new URL(dist.url).pathname
  const full = await s.app.inject({ url, headers: s.alice })
  t.equal(full.statusCode, 200)
  t.equal(full.headers['accept-ranges'], 'bytes')
  const bytes = full.rawPayload
  t.equal(createHash('sha1').update(bytes).digest('hex'), dist.shasum)
  const size = bytes.length

  const part = await s.app.inject({ url, headers: { ...s.alice, range: 'bytes=100-1099' } })
  t.equal(part.statusCode, 206)
  t.equal(part.headers['content-range'], `bytes 100-1099/${size}`)
  t.equal(part.headers['content-length'], '1000')
  t.ok(part.rawPayload.equals(bytes.subarray(100, 1100)), 'exactly the requested bytes')

  const resume = await s.app.inject({ url, headers: { ...s.alice, range: `bytes=${size - 10}-`, 'if-range': `"${dist.shasum}"` } })
  t.equal(resume.statusCode, 206, 'a resumed download with a matching If-Range')
  t.ok(resume.rawPayload.equals(bytes.subarray(size - 10)))

  const suffix = await s.app.inject({ url, headers: { ...s.alice, range: 'bytes=-5' } })
  t.ok(suffix.rawPayload.equals(bytes.subarray(size - 5)), 'a suffix range')

  const stale = await s.app.inject({ url, headers: { ...s.alice, range: 'bytes=0-9', 'if-range': '"another-file"' } })
  t.equal(stale.statusCode, 200, 'If-Range that does not match: the whole file')
  t.equal(stale.rawPayload.length, size)

  const beyond = await s.app.inject({ url, headers: { ...s.alice, range: `bytes=${size}-` } })
  t.equal(beyond.statusCode, 416)
  t.equal(beyond.headers['content-range'], `bytes */${size}`)
  t.match(beyond.json(), { code: 'RANGE_NOT_SATISFIABLE' })

  const several = await s.app.inject({ url, headers: { ...s.alice, range: 'bytes=0-1,10-11' } })
  t.equal(several.statusCode, 200, 'several ranges: the whole file')
  const malformed = await s.app.inject({ url, headers: { ...s.alice, range: 'bytes=abc' } })
  t.equal(malformed.statusCode, 200, 'a malformed range is ignored')

  const head = await s.app.inject({ method: 'HEAD', url, headers: { ...s.alice, range: 'bytes=0-99' } })
  t.equal(head.statusCode, 206)
  t.equal(head.headers['content-length'], '100')
  t.equal(head.rawPayload.length, 0)
})

// Archive bodies are written in 1 MiB chunks from reused buffers, several in flight
// (src/http/file-body.ts). A 5.5 MiB archive over a real socket, whole, in ranges across chunk
// boundaries and as concurrent downloads, must arrive byte for byte; a file shorter on disk
// than its size must reach the client as a cut transfer, and the server keeps serving.
t.test('large archives arrive exactly, in ranges and concurrently, and a damaged file is a cut transfer', async (t) => {
  const s = await buildTestApp(t)
  const account = await s.app.ctx.accounts.create({ username: 'dora' })
  const { key, privateKey } = s.app.ctx.keys.create(account.id, 'ci')
  const auth = basic(key.publicKey, privateKey)
  const work = tempDir(t)
  // Base64 of random bytes compresses little: the zip stays larger than five 1 MiB chunks.
  const zip = await writePackageZip(work, { name: 'acme/huge', version: '1.0.0' }, { files: { 'data.bin': randomBytes(5 * 1024 * 1024 + 512 * 1024).toString('base64') } })
  const sourceSize = readFileSync(zip).length
  await s.app.ctx.catalog.publish(zip, { access: 'public' })
  await s.app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`
  const p2 = await (await fetch(`${base}/p2/acme/huge.json`, { headers: auth })).json() as any
  const dist = p2.packages['acme/huge'][0].dist
  const url = `${base}${new URL(dist.url).pathname}`
  const expected = readFileSync(zip)
  t.ok(sourceSize > 5 * 1024 * 1024, `the archive spans several chunks (${sourceSize} bytes)`)

  const whole = Buffer.from(await (await fetch(url, { headers: auth })).arrayBuffer())
  t.ok(whole.equals(expected), 'the whole archive, byte for byte')
  t.equal(createHash('sha1').update(whole).digest('hex'), dist.shasum)

  const ranges: Array<[number, number]> = [[1024 * 1024 - 5, 1024 * 1024 + 4], [0, 3 * 1024 * 1024], [2 * 1024 * 1024 + 7, sourceSize - 1]]
  for (const [from, to] of ranges) {
    const res = await fetch(url, { headers: { ...auth, range: `bytes=${from}-${to}` } })
    t.equal(res.status, 206)
    t.ok(Buffer.from(await res.arrayBuffer()).equals(expected.subarray(from, to + 1)), `bytes ${from}-${to}`)
  }
  const concurrent = await Promise.all(Array.from({ length: 4 }, async () => Buffer.from(await (await fetch(url, { headers: auth })).arrayBuffer())))
  t.ok(concurrent.every((b) => b.equals(expected)), 'four concurrent downloads, each exact')

  // Damage the stored file (as a disk problem would): shorter than the size the metadata promises.
  const shard = path.join(s.dataDir, 'archives')
  const stored = readdirSync(shard, { recursive: true, withFileTypes: true }).find((e) => e.isFile() && e.name.endsWith('.zip'))!
  truncateSync(path.join(stored.parentPath, stored.name), 2 * 1024 * 1024)
  const cut = await fetch(url, { headers: auth })
  t.equal(cut.status, 200, 'the headers went out before the damage was found')
  await t.rejects(cut.arrayBuffer(), 'the body ends early: the client sees a failed transfer, not a complete file')
  const after = await fetch(`${base}/p2/acme/huge.json`, { headers: auth })
  t.equal(after.status, 200, 'the server keeps serving')
})

t.test('metadata is sent compressed to clients that accept it, and decompresses to exactly the same bytes', async (t) => {
  const s = await setup(t)
  for (const url of ['/packages.json', '/p2/acme/widget.json']) {
    const plain = await s.app.inject({ url, headers: s.alice })
    t.equal(plain.statusCode, 200)
    t.equal(plain.headers['content-encoding'], undefined, `${url}: no Accept-Encoding, no compression`)
    t.equal(plain.headers.vary, 'Accept-Encoding')

    const gz = await s.app.inject({ url, headers: { ...s.alice, 'accept-encoding': 'gzip' } })
    t.equal(gz.headers['content-encoding'], 'gzip', `${url}: gzip`)
    t.equal(gz.headers.vary, 'Accept-Encoding')
    t.equal(Number(gz.headers['content-length']), gz.rawPayload.length, 'Content-Length is the compressed length')
    t.ok(gunzipSync(gz.rawPayload).equals(plain.rawPayload), `${url}: gunzip gives the identical bytes`)
    t.ok(gz.rawPayload.length < plain.rawPayload.length / 2, `${url}: ${plain.rawPayload.length} bytes sent as ${gz.rawPayload.length}`)

    const br = await s.app.inject({ url, headers: { ...s.alice, 'accept-encoding': 'gzip, deflate, br' } })
    t.equal(br.headers['content-encoding'], 'br', `${url}: brotli preferred when offered`)
    t.ok(brotliDecompressSync(br.rawPayload).equals(plain.rawPayload), `${url}: brotli gives the identical bytes`)

    const refused = await s.app.inject({ url, headers: { ...s.alice, 'accept-encoding': 'br;q=0, gzip;q=0' } })
    t.equal(refused.headers['content-encoding'], undefined, `${url}: q=0 is respected`)
  }
  const p2 = await s.app.inject({ url: '/p2/acme/widget.json', headers: { ...s.alice, 'accept-encoding': 'gzip' } })
  const again = await s.app.inject({ url: '/p2/acme/widget.json', headers: { ...s.alice, 'accept-encoding': 'gzip', 'if-modified-since': p2.headers['last-modified'] as string } })
  t.equal(again.statusCode, 304, 'conditional requests still answer 304')
})

t.test('the hot path sees changes made through the account pages and the JSON API on the next request', async (t) => {
  const s = await setup(t)
  await s.app.ctx.accounts.setPassword('alice', 'correct horse battery')
  const api = basic('alice', 'correct horse battery')
  const ok = async (): Promise<number> => (await s.app.inject({ url: '/p2/acme/widget.json', headers: s.alice })).statusCode
  t.equal(await ok(), 200)
  const disabled = await s.app.inject({ method: 'POST', url: `/api/v1/keys/${s.aliceKey}/disable`, headers: api })
  t.equal(disabled.statusCode, 200)
  t.equal(await ok(), 401, 'disabled through the API: refused on the next request')
  await s.app.inject({ method: 'POST', url: `/api/v1/keys/${s.aliceKey}/enable`, headers: api })
  t.equal(await ok(), 200, 'enabled again: accepted on the next request')
  const regenerated = await s.app.inject({ method: 'POST', url: `/api/v1/keys/${s.aliceKey}/regenerate`, headers: api })
  t.equal(regenerated.statusCode, 200)
  t.equal(await ok(), 401, 'regenerated: the old pair is refused on the next request')
  const fresh = regenerated.json() as { publicKey: string, privateKey: string }
  t.equal((await s.app.inject({ url: '/p2/acme/widget.json', headers: basic(fresh.publicKey, fresh.privateKey) })).statusCode, 200, 'the new pair works at once')
  await s.app.inject({ method: 'DELETE', url: `/api/v1/keys/${fresh.publicKey}`, headers: api })
  t.equal((await s.app.inject({ url: '/p2/acme/widget.json', headers: basic(fresh.publicKey, fresh.privateKey) })).statusCode, 401, 'deleted: refused on the next request')
})

t.test('the dist file served is the file on disk (no stale cache after a publish in this process)', async (t) => {
  const s = await setup(t)
  const before = (await s.app.inject({ url: '/p2/acme/widget.json', headers: s.alice })).json().packages['acme/widget'].length
  const work = tempDir(t)
  const file = await writePackageZip(work, { name: 'acme/widget', version: '2.0.0' })
  await s.app.ctx.catalog.publish(file, {})
  const after = (await s.app.inject({ url: '/p2/acme/widget.json', headers: s.alice })).json().packages['acme/widget']
  t.equal(after.length, before + 1, 'the new version is in the very next answer')
  const dist = await s.app.inject({ url: new URL(after[0].dist.url).pathname, headers: s.alice })
  t.ok(dist.rawPayload.equals(readFileSync(file)))
})
