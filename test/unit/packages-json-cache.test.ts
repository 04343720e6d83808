import t from 'tap'
import { basic, buildTestApp, cliJson, tempDir, writePackageZip } from '../helpers/harness.js'

// packages.json is cached per account; changes made by another process (the CLI) must
// still show on the very next request.
t.test('available-packages follows grants, revokes and access changes made by the CLI', async (t) => {
  const { app, dataDir } = await buildTestApp(t)
  const account = await app.ctx.accounts.create({ username: 'carol' })
  const { key, privateKey } = app.ctx.keys.create(account.id, 'ci')
  const work = tempDir(t)
  await app.ctx.catalog.publish(await writePackageZip(work, { name: 'acme/open', version: '1.0.0' }), { access: 'public' })
  await app.ctx.catalog.publish(await writePackageZip(work, { name: 'acme/paid', version: '1.0.0' }))
  const listed = async (): Promise<string[] | undefined> => {
    const res = await app.inject({ url: '/packages.json', headers: basic(key.publicKey, privateKey) })
    t.equal(res.statusCode, 200)
    return res.json()['available-packages']
  }
  t.same(await listed(), ['acme/open'])
  t.same(await listed(), ['acme/open'], 'cached answer is the same')
  await cliJson(dataDir, ['grant', 'carol', 'acme/paid'])
  t.same(await listed(), ['acme/open', 'acme/paid'], 'grant from another process is seen')
  await cliJson(dataDir, ['revoke', 'carol', 'acme/paid'])
  t.same(await listed(), ['acme/open'], 'revoke from another process is seen')
  await cliJson(dataDir, ['package', 'access', 'acme/open', 'restricted'])
  const res = await app.inject({ url: '/packages.json', headers: basic(key.publicKey, privateKey) })
  t.equal(res.json()['available-packages'], undefined)
  t.same(res.json()['available-package-patterns'], ['-/-'], 'an empty list becomes a never-matching pattern')
  await cliJson(dataDir, ['publish', '--access', 'public', await writePackageZip(work, { name: 'acme/new', version: '0.1.0' })])
  t.same(await listed(), ['acme/new'], 'a package published by another process is seen')
})
