import t, { type Test } from 'tap'
import { basic, buildTestApp, cliInProcess, cliJsonQuick, type TestApp } from '../helpers/harness.js'
import { failing, httpUpstream, json, type HttpUpstream } from '../helpers/upstream.js'

// packagist.org's metadata/changes.json: with an upstream that advertises metadata-changes-url,
// refreshing the cached packages reads the feed and asks upstream only for the names it reports.

type Json = Record<string, any>

const EPOCH = 17_000_000_000_000 // packagist.org counts its timestamps in 1/10000 s

/**
 * A packagist.org stand-in: p2 files with Last-Modified (and 304s), and a changes feed that
 * answers like packagist's: 400 {"error","timestamp"} without a usable `since`, else the
 * actions since then and the timestamp to ask from next.
 */
async function packagist (t: Test) {
  const up = await httpUpstream(t)
  const versions = new Map<string, string[]>()
  const modified = new Map<string, string>()
  let now = EPOCH
  const log: Array<{ type: 'update' | 'delete', package: string, at: number }> = []
  let feedMode: 'ok' | 'fail' | 'resync' = 'ok'
  let handed = 0
  up.routes.set('/packages.json', json({
    packages: [],
    'metadata-url': '/p2/%package%.json',
    'metadata-changes-url': `${up.url}/metadata/changes.json`,
    'available-packages': []
  }))
  up.routes.set('/metadata/changes.json', (_req, res, query) => {
    if (feedMode === 'fail') return failing(503)(_req, res)
    const stamp = now++
    handed = stamp
    const since = Number(query.get('since') ?? 0)
    let body: Json
    if (!Number.isSafeInteger(since) || since < 15850612240000) {
      res.statusCode = 400
      body = { error: 'Invalid or missing "since" query parameter, make sure you store the timestamp at the initial point you started mirroring', timestamp: stamp }
    } else if (feedMode === 'resync') {
      body = { actions: [{ type: 'resync', time: Math.floor(stamp / 10000), package: '*' }], timestamp: stamp }
    } else {
      body = { actions: log.filter((a) => a.at >= since).map((a) => ({ type: a.type, package: a.package, time: Math.floor(a.at / 10000) })), timestamp: stamp }
    }
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(body))
  })
  const p2 = (name: string) => {
    up.routes.set(`/p2/${name}.json`, (req, res) => {
      const list = versions.get(name)
      if (list === undefined) { res.writeHead(404); res.end(); return }
      const lastModified = modified.get(name)!
      if (req.headers['if-modified-since'] === lastModified) { res.writeHead(304); res.end(); return }
      res.writeHead(200, { 'content-type': 'application/json', 'last-modified': lastModified })
      res.end(JSON.stringify({ packages: { [name]: list.map((v) => ({ name, version: v, dist: { type: 'zip', url: `${up.url}/dist/${name}/${v}.zip`, shasum: '' } })) } }))
    })
  }
  let second = 0
  return {
    ...up,
    /** Publishes (or replaces) a package's versions; `logged` false leaves the feed out of it. */
    publish (name: string, list: string[], logged = true): void {
      versions.set(name, list)
      modified.set(name, new Date(Date.UTC(2030, 0, 1, 0, 0, second++)).toUTCString())
      p2(name)
      if (logged) log.push({ type: 'update', package: name, at: now++ })
    },
    remove (name: string): void {
      versions.delete(name)
      log.push({ type: 'delete', package: name, at: now++ })
    },
    setFeed (mode: 'ok' | 'fail' | 'resync'): void { feedMode = mode },
    /** The timestamp the feed handed out last: where a follower asks from next. */
    timestamp: (): number => handed
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function setup (t: Test): Promise<{ main: TestApp, up: HttpUpstream & Awaited<ReturnType<typeof packagist>>, get: (name: string) => Promise<string[] | number> }> {
  const up = await packagist(t)
  for (const name of ['acme/one', 'acme/two', 'acme/three']) up.publish(name, ['1.0.0'])
  const main = await buildTestApp(t, { publicUrl: undefined, webhookPollMs: 60_000, upstreamTimeoutMs: 2000, mirrorMaxAgeSeconds: 1 })
  await cliJsonQuick(main.dataDir, ['upstream', 'add', 'packagist', up.url, '--patterns', 'acme/*'])
  await cliJsonQuick(main.dataDir, ['account', 'create', 'alice'])
  const key = await cliJsonQuick(main.dataDir, ['key', 'create', 'alice', '--name', 'ci']) as { publicKey: string, privateKey: string }
  const get = async (name: string): Promise<string[] | number> => {
    const res = await main.app.inject({ url: `/p2/${name}.json`, headers: basic(key.publicKey, key.privateKey) })
    if (res.statusCode !== 200) return res.statusCode
    return (res.json() as Json).packages[name].map((v: Json) => v.version)
  }
  return { main, up, get }
}

/** Serves a stale p2 document, which starts a background refresh, and waits for it. */
async function staleRead (main: TestApp, get: (name: string) => Promise<unknown>, name: string): Promise<void> {
  await get(name)
  await main.app.ctx.mirror.settle()
}

t.test('a background refresh reads the changes feed and asks only for the cached names it reports', async (t) => {
  const { main, up, get } = await setup(t)

  // The first name asked starts following the feed (packagist answers 400 with a timestamp), then is fetched.
  t.same(await get('acme/one'), ['1.0.0'])
  t.same(up.requests.filter((r) => r.startsWith('/metadata/')), ['/metadata/changes.json'], 'the first feed request has no since')
  const started = up.timestamp()
  t.equal(started, EPOCH + 3, 'three publishes moved the stand-in\'s clock')
  t.same(await get('acme/two'), ['1.0.0'])
  t.same(await get('acme/three'), ['1.0.0'])
  t.equal(up.requests.filter((r) => r.startsWith('/metadata/')).length, 1, 'started once')

  // Upstream: acme/one gets 1.1.0, acme/three is deleted; a package nobody cached changes too.
  up.publish('acme/one', ['1.1.0', '1.0.0'])
  up.remove('acme/three')
  up.publish('other/uncached', ['1.0.0'])
  await pause(1100)
  up.requests.length = 0
  await staleRead(main, get, 'acme/two')
  t.same(up.requests, ['/packages.json', `/metadata/changes.json?since=${started}`, '/p2/acme/one.json', '/p2/acme/one~dev.json'],
    'one feed request, then only the cached name it reports as updated: no request for acme/two, acme/three or uncached names')
  t.same(await get('acme/one'), ['1.1.0', '1.0.0'], 'the reported update is served')
  t.same(await get('acme/three'), ['1.0.0'], 'a package deleted upstream stays served from the cache')
  t.same(await get('acme/two'), ['1.0.0'])
  await main.app.ctx.mirror.settle()
  t.same(up.requests.filter((r) => r.startsWith('/p2/acme/two') || r.startsWith('/p2/acme/three')), [], 'vouched for by the feed: fresh, not asked')

  // The timestamp is kept in the database: `upstream sync` in another context asks from it.
  const next = up.timestamp()
  t.ok(next > started)
  up.requests.length = 0
  const sync = await cliInProcess(main.dataDir, ['--json', 'upstream', 'sync', 'packagist'])
  t.equal(sync.code, 0, sync.stderr)
  t.same(sync.json, [{ upstream: 'packagist', ok: true, packages: 3, updated: 0, errors: [] }])
  t.same(up.requests, ['/packages.json', `/metadata/changes.json?since=${next}`], 'nothing changed: no package asked')

  // Without a usable feed (it fails), a stale package is asked on its own, conditionally.
  up.setFeed('fail')
  up.publish('acme/two', ['2.0.0', '1.0.0'], false)
  await pause(1100)
  const since = up.timestamp()
  up.requests.length = 0
  await staleRead(main, get, 'acme/two')
  t.same(up.requests, ['/packages.json', `/metadata/changes.json?since=${since}`, '/p2/acme/two.json', '/p2/acme/two~dev.json'], 'the feed failed: asked per package')
  t.same(await get('acme/two'), ['2.0.0', '1.0.0'])
  t.match(main.log(), /upstream changes feed failed; asking each package/)
})

t.test('a resync restarts the feed: names are asked on their own once, then followed again', async (t) => {
  const { main, up, get } = await setup(t)
  for (const name of ['acme/one', 'acme/two']) t.same(await get(name), ['1.0.0'])
  up.setFeed('resync')
  await pause(1100)
  let since = up.timestamp()
  up.requests.length = 0
  await staleRead(main, get, 'acme/one')
  t.same(up.requests, ['/packages.json', `/metadata/changes.json?since=${since}`, '/p2/acme/one.json', '/p2/acme/one~dev.json'], 'resync: the feed vouches for nothing, the name is asked')

  // acme/one was asked after the restart, acme/two before it: only acme/two is asked on its own next time.
  up.setFeed('ok')
  await pause(1100)
  since = up.timestamp()
  up.requests.length = 0
  await staleRead(main, get, 'acme/one')
  t.same(up.requests, ['/packages.json', `/metadata/changes.json?since=${since}`], 'acme/one is vouched for')
  await pause(1100)
  since = up.timestamp()
  up.requests.length = 0
  await staleRead(main, get, 'acme/two')
  t.same(up.requests, ['/packages.json', `/metadata/changes.json?since=${since}`, '/p2/acme/two.json', '/p2/acme/two~dev.json'], 'acme/two was last asked before the restart')
})

t.test('an upstream without a changes feed keeps the per-package refresh', async (t) => {
  const up = await httpUpstream(t)
  up.routes.set('/packages.json', json({ packages: [], 'metadata-url': '/p2/%package%.json' }))
  up.routes.set('/p2/acme/one.json', json({ packages: { 'acme/one': [{ name: 'acme/one', version: '1.0.0', dist: { type: 'zip', url: `${up.url}/a.zip` } }] } }))
  const main = await buildTestApp(t, { publicUrl: undefined, webhookPollMs: 60_000, upstreamTimeoutMs: 2000, mirrorMaxAgeSeconds: 1 })
  await cliJsonQuick(main.dataDir, ['upstream', 'add', 'plain', up.url, '--patterns', 'acme/*'])
  await cliJsonQuick(main.dataDir, ['account', 'create', 'alice'])
  const key = await cliJsonQuick(main.dataDir, ['key', 'create', 'alice', '--name', 'ci']) as { publicKey: string, privateKey: string }
  const get = () => main.app.inject({ url: '/p2/acme/one.json', headers: basic(key.publicKey, key.privateKey) })
  t.equal((await get()).statusCode, 200)
  await pause(1100)
  up.requests.length = 0
  await get()
  await main.app.ctx.mirror.settle()
  t.same(up.requests, ['/packages.json', '/p2/acme/one.json', '/p2/acme/one~dev.json'])
})
