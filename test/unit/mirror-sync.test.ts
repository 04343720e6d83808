import t, { type Test } from 'tap'
import { basic, buildTestApp, cliInProcess, cliJsonQuick } from '../helpers/harness.js'
import { closedPort, failing, httpUpstream, json } from '../helpers/upstream.js'

// `packyard upstream sync` and POST /api/v1/admin/upstreams/<name>/sync when something fails:
// what can be synced is, every failure is reported, and the exit code (or status) says so.

type Json = Record<string, any>

/** A Composer 2 upstream on 127.0.0.1 serving acme/good, and acme/broken whose p2 file answers 500. */
async function v2Upstream (t: Test) {
  const up = await httpUpstream(t)
  up.routes.set('/packages.json', json({ packages: [], 'metadata-url': '/p2/%package%.json' }))
  up.routes.set('/p2/acme/good.json', json({ packages: { 'acme/good': [{ name: 'acme/good', version: '1.0.0', version_normalized: '1.0.0.0', dist: { type: 'zip', url: `${up.url}/dist/good.zip`, shasum: '' } }] } }))
  up.routes.set('/p2/acme/broken.json', failing(500))
  return up
}

async function setup (t: Test) {
  const up = await v2Upstream(t)
  const built = await buildTestApp(t, { publicUrl: undefined, webhookPollMs: 60_000, upstreamTimeoutMs: 2000 })
  const { dataDir } = built
  await cliJsonQuick(dataDir, ['upstream', 'add', 'up', up.url, '--mode', 'approved'])
  for (const name of ['acme/good', 'acme/broken']) await cliJsonQuick(dataDir, ['upstream', 'approve', 'up', name])
  return { ...built, up }
}

t.test('upstream sync exits 1 with one stderr line per failed package, after syncing what it could', async (t) => {
  const { app, dataDir, up } = await setup(t)
  const brokenUrl = `${up.url}/p2/acme/broken.json`

  const r = await cliInProcess(dataDir, ['--json', 'upstream', 'sync', 'up'])
  t.equal(r.code, 1, 'a failure is a non-zero exit')
  t.equal(r.stderr, `packyard: upstream up: acme/broken: GET ${brokenUrl} answered 500\n`)
  t.same(r.json, [{ upstream: 'up', ok: false, packages: 2, updated: 1, errors: [`acme/broken: GET ${brokenUrl} answered 500`] }], '--json reports the failure')

  // What could be synced was: acme/good is served.
  await cliJsonQuick(dataDir, ['account', 'create', 'alice'])
  const key = await cliJsonQuick(dataDir, ['key', 'create', 'alice', '--name', 'ci']) as { publicKey: string, privateKey: string }
  const good = await app.inject({ url: '/p2/acme/good.json', headers: basic(key.publicKey, key.privateKey) })
  t.equal(good.statusCode, 200)

  const human = await cliInProcess(dataDir, ['upstream', 'sync', 'up'])
  t.equal(human.code, 1)
  t.equal(human.stdout, 'up: 2 package(s) checked, 0 updated, 1 failure(s)\n')
  t.equal(human.stderr, `packyard: upstream up: acme/broken: GET ${brokenUrl} answered 500\n`)

  // Every upstream: one that is down entirely is one line of its own; the others still sync.
  const port = await closedPort()
  await cliJsonQuick(dataDir, ['upstream', 'add', 'gone', `http://127.0.0.1:${port}`, '--mode', 'approved'])
  const all = await cliInProcess(dataDir, ['--json', 'upstream', 'sync'])
  t.equal(all.code, 1)
  const lines = all.stderr.trimEnd().split('\n')
  t.equal(lines.length, 2, all.stderr)
  t.equal(lines[0], `packyard: upstream up: acme/broken: GET ${brokenUrl} answered 500`)
  t.match(lines[1], new RegExp(`^packyard: upstream gone: GET http://127\\.0\\.0\\.1:${port}/packages\\.json: \\S+`))
  t.match(all.json, [{ upstream: 'up', ok: false, packages: 2 }, { upstream: 'gone', ok: false, packages: 0, errors: [String] }])

  // Once the upstream is fixed (and the broken one removed), the same command exits 0.
  up.routes.set('/p2/acme/broken.json', json({ packages: { 'acme/broken': [{ name: 'acme/broken', version: '2.0.0', dist: { type: 'zip', url: `${up.url}/dist/broken.zip` } }] } }))
  await cliJsonQuick(dataDir, ['upstream', 'remove', 'gone'])
  const fixed = await cliInProcess(dataDir, ['--json', 'upstream', 'sync'])
  t.equal(fixed.code, 0, fixed.stderr)
  t.equal(fixed.stderr, '')
  t.same(fixed.json, [{ upstream: 'up', ok: true, packages: 2, updated: 1, errors: [] }])
})

t.test('the admin API sync answers 502 with the failures, 200 when everything synced', async (t) => {
  const { app, up } = await setup(t)
  const admin = app.ctx.apiTokens.create('ops', 'admin').secret
  const sync = async () => await app.inject({ method: 'POST', url: '/api/v1/admin/upstreams/up/sync', headers: { authorization: `Bearer ${admin}` } })

  const failed = await sync()
  t.equal(failed.statusCode, 502)
  const body = failed.json() as Json
  t.same(body, {
    code: 'UPSTREAM_SYNC_FAILED',
    message: `upstream up: 1 failure(s) while syncing; first: acme/broken: GET ${up.url}/p2/acme/broken.json answered 500`,
    upstream: 'up',
    ok: false,
    packages: 2,
    updated: 1,
    errors: [`acme/broken: GET ${up.url}/p2/acme/broken.json answered 500`]
  })
  t.match(app.ctx.mirror.list(), [{ name: 'up', versions: 1 }], 'acme/good was stored anyway')

  up.routes.delete('/p2/acme/broken.json')
  const ok = await sync()
  t.equal(ok.statusCode, 200, ok.body)
  t.same(ok.json(), { upstream: 'up', ok: true, packages: 2, updated: 0, errors: [] }, 'a name upstream does not have is not a failure')
})
