import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { basic, buildTestApp, cliInProcess as cliRun, tempDir, writePackageZip } from '../helpers/harness.js'
import { registered, textOf } from '../helpers/web.js'

/**
 * The in-process CLI runs in microtasks only; the server's change counter is read at most once
 * per event-loop iteration (src/repositories/changes.ts), so let one pass, as any real request would.
 */
async function cliInProcess (...args: Parameters<typeof cliRun>): ReturnType<typeof cliRun> {
  const result = await cliRun(...args)
  await new Promise((resolve) => setImmediate(resolve))
  return result
}

// Licence-shaped grants, yank, abandon and advisories through app.inject and the in-process CLI.

interface Customer { id: number, headers: { authorization: string } }

async function setup (t: { teardown: (fn: () => unknown) => void }) {
  const built = await buildTestApp(t)
  const { app } = built
  const work = tempDir(t)
  const publish = async (name: string, version: string, access: 'public' | 'restricted' = 'restricted', extra: Record<string, unknown> = {}): Promise<void> => {
    await app.ctx.catalog.publish(await writePackageZip(work, { name, version, description: `${name} ${version}`, ...extra }), { access })
  }
  const customer = async (username: string): Promise<Customer> => {
    const account = await app.ctx.accounts.create({ username })
    const { key, privateKey } = app.ctx.keys.create(account.id, 'ci')
    return { id: account.id, headers: basic(key.publicKey, privateKey) }
  }
  const admin = app.ctx.apiTokens.create('root', 'admin').secret
  return { ...built, work, publish, customer, admin: { authorization: `Bearer ${admin}` } }
}

/** The versions of a p2 document (composer/2.0 minified: `version` is in every entry). */
async function versions (app: FastifyInstance, c: Customer, name: string, dev = false): Promise<string[] | number> {
  const res = await app.inject({ url: `/p2/${name}${dev ? '~dev' : ''}.json`, headers: c.headers })
  if (res.statusCode !== 200) return res.statusCode
  return (res.json().packages[name] as Array<{ version: string }>).map((v) => v.version)
}

async function available (app: FastifyInstance, c: Customer): Promise<string[] | undefined> {
  const res = await app.inject({ url: '/packages.json', headers: c.headers })
  return res.json()['available-packages']
}

async function archive (app: FastifyInstance, c: Customer, name: string, version: string) {
  return await app.inject({ url: `/archives/${name}/${name.replace('/', '-')}-${version}.0.zip`, headers: c.headers })
}

t.test('a constraint grant lists and serves only the matching versions', async (t) => {
  const s = await setup(t)
  for (const v of ['1.0.0', '1.1.0', '2.0.0']) await s.publish('acme/tool', v)
  const alice = await s.customer('alice')
  s.app.ctx.grants.grant('alice', 'acme/tool', { constraint: '^1.0' })
  t.same(await versions(s.app, alice, 'acme/tool'), ['1.1.0', '1.0.0'])
  t.same(await available(s.app, alice), ['acme/tool'])
  t.equal((await archive(s.app, alice, 'acme/tool', '1.1.0')).statusCode, 200)
  const outside = await archive(s.app, alice, 'acme/tool', '2.0.0')
  t.equal(outside.statusCode, 403)
  t.match(outside.json().message, /licence for acme\/tool does not include version 2\.0\.0 \(it covers versions \^1\.0\)/)

  // Re-granting replaces the rule, and Last-Modified moves so no client keeps a stale 304.
  const before = await s.app.inject({ url: '/p2/acme/tool.json', headers: alice.headers })
  await sleep(1100)
  s.app.ctx.grants.grant('alice', 'acme/tool', { constraint: '^2.0' })
  const after = await s.app.inject({ url: '/p2/acme/tool.json', headers: { ...alice.headers, 'if-modified-since': before.headers['last-modified'] as string } })
  t.equal(after.statusCode, 200, 'not 304 after the rule changed')
  t.same(after.json().packages['acme/tool'].map((v: { version: string }) => v.version), ['2.0.0'])

  // A rule that opens nothing: not listed, 404 for the metadata, 403 for archives.
  s.app.ctx.grants.grant('alice', 'acme/tool', { constraint: '^9.0' })
  t.equal(await available(s.app, alice), undefined)
  t.equal(await versions(s.app, alice, 'acme/tool'), 404)
  t.equal((await archive(s.app, alice, 'acme/tool', '1.0.0')).statusCode, 403)
})

t.test('updatesUntil keeps the versions published before it, for good', async (t) => {
  const s = await setup(t)
  await s.publish('acme/tool', '1.0.0')
  await sleep(20)
  const between = new Date().toISOString()
  await sleep(20)
  // composer.json's own `time` is ignored: only the server's publish time counts.
  await s.publish('acme/tool', '1.1.0', 'restricted', { time: '2000-01-01' })
  const alice = await s.customer('alice')
  s.app.ctx.grants.grant('alice', 'acme/tool', { updatesUntil: between })
  t.same(await versions(s.app, alice, 'acme/tool'), ['1.0.0'])
  t.equal((await archive(s.app, alice, 'acme/tool', '1.1.0')).statusCode, 403)
  t.equal((await archive(s.app, alice, 'acme/tool', '1.0.0')).statusCode, 200)

  // A day: through its end, UTC.
  const today = new Date().toISOString().slice(0, 10)
  s.app.ctx.grants.grant('alice', 'acme/tool', { updatesUntil: today })
  t.same(await versions(s.app, alice, 'acme/tool'), ['1.1.0', '1.0.0'])
  s.app.ctx.grants.grant('alice', 'acme/tool', { updatesUntil: '2001-01-01' })
  t.equal(await versions(s.app, alice, 'acme/tool'), 404, 'everything published after the licence ended')
})

t.test('minimumStability, and all parts combined', async (t) => {
  const s = await setup(t)
  for (const v of ['1.0.0', '1.1.0-beta1', '2.0.0-RC1', 'dev-main']) await s.publish('acme/tool', v)
  const alice = await s.customer('alice')
  const bob = await s.customer('bob')
  t.same(await versions(s.app, alice, 'acme/tool'), 404, 'nothing before the grant')
  s.app.ctx.grants.grant('alice', 'acme/tool', { minimumStability: 'stable' })
  t.same(await versions(s.app, alice, 'acme/tool'), ['1.0.0'])
  t.equal(await versions(s.app, alice, 'acme/tool', true), 404, 'no dev versions')
  s.app.ctx.grants.grant('alice', 'acme/tool', { minimumStability: 'beta' })
  t.same(await versions(s.app, alice, 'acme/tool'), ['2.0.0-RC1', '1.1.0-beta1', '1.0.0'])
  s.app.ctx.grants.grant('bob', 'acme/tool')
  t.same(await versions(s.app, bob, 'acme/tool', true), ['dev-main'], 'a grant without limits sees everything')
  s.app.ctx.grants.grant('alice', 'acme/tool', { constraint: '^1.0', minimumStability: 'rc', updatesUntil: '2999-12-31' })
  t.same(await versions(s.app, alice, 'acme/tool'), ['1.0.0'])
})

t.test('vendor/* grants: every package, present and future; an exact grant wins', async (t) => {
  const s = await setup(t)
  for (const v of ['1.0.0', '2.0.0']) {
    await s.publish('acme/tool', v)
    await s.publish('acme/kit', v)
  }
  await s.publish('other/thing', '1.0.0')
  const alice = await s.customer('alice')
  s.app.ctx.grants.grant('alice', 'acme/*', { constraint: '^2.0' })
  s.app.ctx.grants.grant('alice', 'acme/kit', { constraint: '^1.0' })
  t.same(await available(s.app, alice), ['acme/kit', 'acme/tool'])
  t.same(await versions(s.app, alice, 'acme/tool'), ['2.0.0'])
  t.same(await versions(s.app, alice, 'acme/kit'), ['1.0.0'], 'the exact grant, not the vendor one')
  t.equal(await versions(s.app, alice, 'other/thing'), 404)
  await s.publish('acme/new', '2.5.0')
  t.same(await versions(s.app, alice, 'acme/new'), ['2.5.0'], 'a package published later')
  s.app.ctx.grants.revoke('alice', 'acme/kit')
  t.same(await versions(s.app, alice, 'acme/kit'), ['2.0.0'], 'back to the vendor rule')
  s.app.ctx.grants.revoke('alice', 'acme/*')
  t.equal(await available(s.app, alice), undefined)
})

t.test('a public package ignores grants', async (t) => {
  const s = await setup(t)
  for (const v of ['1.0.0', '2.0.0']) await s.publish('acme/open', v, 'public')
  const alice = await s.customer('alice')
  const bob = await s.customer('bob')
  s.app.ctx.grants.grant('alice', 'acme/open', { constraint: '^1.0' })
  s.app.ctx.grants.grant('alice', 'acme/*', { constraint: '^1.0' })
  t.same(await versions(s.app, alice, 'acme/open'), ['2.0.0', '1.0.0'])
  const a = await s.app.inject({ url: '/p2/acme/open.json', headers: alice.headers })
  const b = await s.app.inject({ url: '/p2/acme/open.json', headers: bob.headers })
  t.equal(a.body, b.body, 'the stored document')
  t.equal((await archive(s.app, alice, 'acme/open', '2.0.0')).statusCode, 200)
})

t.test('accounts with the same rule share one prebuilt document', async (t) => {
  const s = await setup(t)
  for (const v of ['1.0.0', '2.0.0']) await s.publish('acme/tool', v)
  const [a, b, c] = [await s.customer('ann'), await s.customer('ben'), await s.customer('cat')]
  s.app.ctx.grants.grant('ann', 'acme/tool', { constraint: '^1.0' })
  s.app.ctx.grants.grant('ben', 'acme/*', { constraint: '^1.0' })
  s.app.ctx.grants.grant('cat', 'acme/tool', { constraint: '^2.0' })
  await versions(s.app, a, 'acme/tool')
  const built = s.app.ctx.catalog.cacheStats().filteredBuilds
  const first = await s.app.inject({ url: '/p2/acme/tool.json', headers: a.headers })
  const second = await s.app.inject({ url: '/p2/acme/tool.json', headers: b.headers })
  t.equal(second.body, first.body)
  t.equal(s.app.ctx.catalog.cacheStats().filteredBuilds, built, 'b (vendor grant, same rule) reuses a\'s document')
  t.same(await versions(s.app, c, 'acme/tool'), ['2.0.0'])
  t.equal(s.app.ctx.catalog.cacheStats().filteredBuilds, built + 1, 'another rule, another document')
})

t.test('search lists what the grant opens, described by its newest allowed version', async (t) => {
  const s = await setup(t)
  for (const v of ['1.0.0', '2.0.0']) await s.publish('acme/tool', v)
  await s.publish('acme/kit', '2.0.0')
  const alice = await s.customer('alice')
  s.app.ctx.grants.grant('alice', 'acme/*', { constraint: '^1.0' })
  const res = await s.app.inject({ url: '/search.json?q=acme', headers: alice.headers })
  t.same(res.json().results.map((r: { name: string, description: string }) => [r.name, r.description]), [['acme/tool', 'acme/tool 1.0.0']])
})

t.test('invalid rules are a 400 (service, CLI and API), and nothing is granted', async (t) => {
  const s = await setup(t)
  await s.publish('acme/tool', '1.0.0')
  await s.customer('alice')
  for (const [rule, message] of [
    [{ constraint: '^^1' }, /invalid version constraint/],
    [{ updatesUntil: '2025-02-30' }, /no such date/],
    [{ updatesUntil: '2025-02-01T25:00:00Z' }, /no such date or time/],
    [{ updatesUntil: 'tomorrow' }, /YYYY-MM-DD/],
    [{ minimumStability: 'gamma' }, /stable, RC, beta, alpha or dev/]
  ] as const) {
    const res = await s.app.inject({ method: 'PUT', url: '/api/v1/admin/accounts/alice/grants/acme/tool', headers: s.admin, payload: rule })
    t.equal(res.statusCode, 400, JSON.stringify(rule))
    t.match(res.json().message, message)
  }
  const cli = await cliInProcess(s.dataDir, ['grant', 'alice', 'acme/tool', '--updates-until', '2025-02-30'])
  t.equal(cli.code, 1)
  t.match(cli.stderr, /no such date/)
  t.same(s.app.ctx.grants.list('alice').grants, [])
})

t.test('grants through the CLI (--json with the rule) and the admin API', async (t) => {
  const s = await setup(t)
  await s.publish('acme/tool', '1.0.0')
  await s.customer('alice')
  const cli = await cliInProcess(s.dataDir, ['--json', 'grant', 'alice', 'acme/*', '--constraint', '>=1.0 <3.0', '--updates-until', '2026-03-31', '--minimum-stability', 'RC'])
  t.equal(cli.code, 0, cli.stderr)
  t.same(cli.json, { username: 'alice', vendor: 'acme/*', granted: true, rule: { constraint: '>=1.0 <3.0', updatesUntil: '2026-03-31T23:59:59.999Z', minimumStability: 'RC' } })
  const human = await cliInProcess(s.dataDir, ['grants', 'alice'])
  t.match(human.stdout, /acme\/\*\tversions >=1\.0 <3\.0, updates until 2026-03-31, RC or more stable/)

  const put = await s.app.inject({ method: 'PUT', url: '/api/v1/admin/accounts/alice/grants/acme/tool', headers: s.admin, payload: { constraint: '^1.0' } })
  t.equal(put.statusCode, 200)
  t.same(put.json(), { username: 'alice', target: 'acme/tool', kind: 'package', constraint: '^1.0', updatesUntil: null, minimumStability: null })
  const bare = await s.app.inject({ method: 'PUT', url: '/api/v1/admin/accounts/alice/grants/acme/tool', headers: s.admin })
  t.equal(bare.statusCode, 200, 'no body: every version')
  t.equal(bare.json().constraint, null)
  const list = await s.app.inject({ url: '/api/v1/admin/accounts/alice/grants', headers: s.admin })
  t.match(list.json().grants, [{ target: 'acme/*', kind: 'vendor', constraint: '>=1.0 <3.0' }, { target: 'acme/tool', kind: 'package', constraint: null }])
  t.equal((await s.app.inject({ method: 'DELETE', url: '/api/v1/admin/accounts/alice/grants/acme/*', headers: s.admin })).statusCode, 204)
  t.equal((await s.app.inject({ method: 'DELETE', url: '/api/v1/admin/accounts/alice/grants/acme/tool', headers: s.admin })).statusCode, 204)
  t.same((await s.app.inject({ url: '/api/v1/admin/accounts/alice/grants', headers: s.admin })).json().grants, [])
  t.equal((await s.app.inject({ method: 'PUT', url: '/api/v1/admin/accounts/alice/grants/acme/missing', headers: s.admin })).statusCode, 404)
  t.equal((await s.app.inject({ url: '/api/v1/admin/accounts/alice/grants' })).statusCode, 401)

  s.app.ctx.downloads.setEditionAccess('pro', 'restricted')
  const edition = await s.app.inject({ method: 'PUT', url: '/api/v1/admin/accounts/alice/editions/pro', headers: s.admin })
  t.same(edition.json(), { username: 'alice', edition: 'pro', granted: true })
  const withEdition = (await s.app.inject({ url: '/api/v1/admin/accounts/alice/grants', headers: s.admin })).json()
  t.match(withEdition, { username: 'alice', grants: [], editions: [{ edition: 'pro', createdAt: String }] }, 'the edition grant is listed with the package grants')
  t.match((await cliInProcess(s.dataDir, ['grants', 'alice'])).stdout, /^pro\trelease files \(edition\)$/m, 'and by `packyard grants`')
  t.equal((await s.app.inject({ method: 'DELETE', url: '/api/v1/admin/accounts/alice/editions/pro', headers: s.admin })).statusCode, 204)
  t.same((await s.app.inject({ url: '/api/v1/admin/accounts/alice/grants', headers: s.admin })).json().editions, [], 'gone once revoked')
  t.equal((await cliInProcess(s.dataDir, ['grants', 'alice'])).stdout, 'alice has no grants\n')
})

t.test('a yanked version leaves the metadata while its archive still downloads', async (t) => {
  const s = await setup(t)
  for (const v of ['1.0.0', '1.1.0']) await s.publish('acme/tool', v, 'public')
  const alice = await s.customer('alice')
  const updated = s.app.ctx.catalog.get('acme/tool').metadataUpdatedAt
  const yank = await s.app.inject({ method: 'POST', url: '/api/v1/admin/packages/acme/tool/versions/1.1.0/yank', headers: s.admin })
  t.equal(yank.statusCode, 200)
  t.match(yank.json(), { name: 'acme/tool', version: '1.1.0', yanked: true })
  t.ok(s.app.ctx.catalog.get('acme/tool').metadataUpdatedAt > updated, 'metadata rebuilt')
  t.same(await versions(s.app, alice, 'acme/tool'), ['1.0.0'])
  t.equal((await archive(s.app, alice, 'acme/tool', '1.1.0')).statusCode, 200, 'lock files keep working')
  t.match((await s.app.inject({ url: '/api/v1/admin/packages/acme/tool', headers: s.admin })).json().versions, [{ version: '1.1.0', yanked: true }, { version: '1.0.0', yanked: false }])
  const cli = await cliInProcess(s.dataDir, ['package', 'unyank', 'acme/tool', '1.1.0'])
  t.equal(cli.code, 0, cli.stderr)
  t.same(await versions(s.app, alice, 'acme/tool'), ['1.1.0', '1.0.0'])
  t.equal((await s.app.inject({ method: 'POST', url: '/api/v1/admin/packages/acme/tool/versions/9.9.9/yank', headers: s.admin })).statusCode, 404)
})

t.test('abandoned: Composer\'s field on the versions, set by PATCH and the CLI', async (t) => {
  const s = await setup(t)
  for (const v of ['1.0.0', '1.1.0']) await s.publish('acme/tool', v, 'public')
  const alice = await s.customer('alice')
  const patch = await s.app.inject({ method: 'PATCH', url: '/api/v1/admin/packages/acme/tool', headers: s.admin, payload: { abandoned: 'acme/tool-ng' } })
  t.equal(patch.statusCode, 200)
  t.equal(patch.json().abandoned, 'acme/tool-ng')
  const doc = (await s.app.inject({ url: '/p2/acme/tool.json', headers: alice.headers })).json()
  t.equal(doc.packages['acme/tool'][0].abandoned, 'acme/tool-ng', 'on the first version, inherited by the minified rest')
  t.notOk('abandoned' in doc.packages['acme/tool'][1])
  s.app.ctx.grants.grant('alice', 'acme/tool', { constraint: '^1.0' })
  t.equal((await cliInProcess(s.dataDir, ['package', 'abandon', 'acme/tool'])).code, 0)
  t.equal((await s.app.inject({ url: '/p2/acme/tool.json', headers: alice.headers })).json().packages['acme/tool'][0].abandoned, true)
  t.equal((await cliInProcess(s.dataDir, ['package', 'abandon', 'acme/tool', '--undo'])).code, 0)
  t.notOk('abandoned' in (await s.app.inject({ url: '/p2/acme/tool.json', headers: alice.headers })).json().packages['acme/tool'][0])
  const access = await s.app.inject({ method: 'PATCH', url: '/api/v1/admin/packages/acme/tool', headers: s.admin, payload: { access: 'restricted' } })
  t.equal(access.json().access, 'restricted')
  t.equal((await s.app.inject({ method: 'PATCH', url: '/api/v1/admin/packages/acme/tool', headers: s.admin, payload: { abandoned: 'Not A Name' } })).statusCode, 400)
})

t.test('security advisories for composer audit', async (t) => {
  const s = await setup(t)
  await s.publish('acme/tool', '1.0.0', 'public')
  await s.publish('acme/secret', '1.0.0')
  const alice = await s.customer('alice')
  const root = (await s.app.inject({ url: '/packages.json', headers: alice.headers })).json()
  t.same(root['security-advisories'], { metadata: false, 'api-url': 'http://localhost:80/api/security-advisories/' })

  const created = await s.app.inject({ method: 'POST', url: '/api/v1/admin/advisories', headers: s.admin, payload: { package: 'acme/tool', affectedVersions: '>=1.0,<1.0.2', title: 'Stored XSS', cve: 'CVE-2030-12345', link: 'https://example.test/adv/1', severity: 'high' } })
  t.equal(created.statusCode, 201)
  const cli = await cliInProcess(s.dataDir, ['--json', 'advisory', 'add', 'acme/secret', '--affected', '<2.0', '--title', 'Hidden'])
  t.equal(cli.code, 0, cli.stderr)
  t.equal((await s.app.inject({ method: 'POST', url: '/api/v1/admin/advisories', headers: s.admin, payload: { package: 'acme/tool', affectedVersions: '>>1', title: 'x' } })).statusCode, 400)

  const audit = await s.app.inject({
    method: 'POST',
    url: '/api/security-advisories/',
    headers: { ...alice.headers, 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'packages%5B0%5D=acme%2Ftool&packages%5B1%5D=acme%2Fsecret&packages%5B2%5D=acme%2Fnone'
  })
  t.equal(audit.statusCode, 200)
  t.equal(audit.headers['content-type'], 'application/json')
  const id = created.json().advisoryId as string
  t.same(audit.json(), {
    advisories: {
      'acme/tool': [{
        advisoryId: id,
        packageName: 'acme/tool',
        affectedVersions: '>=1.0,<1.0.2',
        title: 'Stored XSS',
        cve: 'CVE-2030-12345',
        link: 'https://example.test/adv/1',
        reportedAt: created.json().reportedAt,
        sources: [{ name: 'Packyard', remoteId: id }],
        severity: 'high'
      }]
    }
  }, 'nothing about a package alice cannot see')
  t.match(created.json().reportedAt, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)
  t.equal((await s.app.inject({ method: 'POST', url: '/api/security-advisories/', payload: 'packages[]=acme/tool', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).statusCode, 401)

  t.equal((await s.app.inject({ method: 'DELETE', url: `/api/v1/admin/advisories/${id}`, headers: s.admin })).statusCode, 204)
  t.same((await s.app.inject({ url: '/api/v1/admin/advisories', headers: s.admin })).json().map((a: { packageName: string }) => a.packageName), ['acme/secret'])
})

t.test('"My packages" lists what the account can install, the versions and why', async (t) => {
  const s = await setup(t)
  for (const v of ['1.0.0', '2.0.0']) {
    await s.publish('acme/tool', v)
    await s.publish('acme/kit', v)
    await s.publish('acme/open', v, 'public')
  }
  await s.publish('acme/hidden', '1.0.0')
  const b = await registered(s.app, 'alice', 'correct horse battery')
  s.app.ctx.grants.grant('alice', 'acme/tool', { constraint: '^1.0' })
  s.app.ctx.grants.grant('alice', 'acme/kit', { updatesUntil: '2999-01-31' })
  const page = await b.get('/account/packages')
  t.equal(page.statusCode, 200)
  const text = textOf(page.body).replace(/\s+/g, ' ')
  t.match(text, /acme\/kit ?granted until 2999-01-31 ?Versions you can install ?2\.0\.0, 1\.0\.0 ?Install ?composer require acme\/kit/)
  t.match(text, /acme\/open ?public ?Versions you can install ?2\.0\.0, 1\.0\.0/)
  t.match(text, /acme\/tool ?granted: versions \^1\.0 ?Versions you can install ?1\.0\.0 ?Install ?composer require acme\/tool/)
  t.notMatch(text, /acme\/hidden/)
  t.match(page.body, /<a href="\/account\/packages" aria-current="page">My packages<\/a>/)
  t.equal((await s.app.inject({ url: '/account/packages' })).statusCode, 303, 'signed-out visitors go to the login page')
})
