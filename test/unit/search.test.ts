import t from 'tap'
import { basic, buildTestApp, tempDir, writePackageZip } from '../helpers/harness.js'

// Composer shows a package's description and type in `composer search`; they must come from
// the newest version in Composer's order, not from the version published last.
t.test('search.json describes a package by its newest version, whatever the publishing order', async (t) => {
  const { app } = await buildTestApp(t)
  const account = await app.ctx.accounts.create({ username: 'dana' })
  const { key, privateKey } = app.ctx.keys.create(account.id, 'laptop')
  const work = tempDir(t)
  const publish = async (version: string, description: string, type: string): Promise<void> => {
    await app.ctx.catalog.publish(await writePackageZip(work, { name: 'acme/tool', version, description, type }), { access: 'public' })
  }
  await publish('2.1.0', 'The current tool', 'magento2-module')
  // A backported patch release published after 2.1.0: the newest insert, not the newest version.
  await publish('1.9.9', 'Legacy tool (old line)', 'library')
  await publish('2.0.0-beta1', 'Beta of the tool', 'library')

  const search = async (q: string, type = ''): Promise<Array<{ name: string, description: string }>> => {
    const res = await app.inject({ url: `/search.json?q=${encodeURIComponent(q)}&type=${type}`, headers: basic(key.publicKey, privateKey) })
    t.equal(res.statusCode, 200)
    return res.json().results
  }
  const [hit] = await search('tool')
  t.equal(hit?.name, 'acme/tool')
  t.equal(hit?.description, 'The current tool', 'description of 2.1.0')
  t.same((await search('tool', 'magento2-module')).map((r) => r.name), ['acme/tool'], 'type of 2.1.0')
  t.same(await search('tool', 'library'), [], 'not the type of an older version')
  t.same(await search('legacy'), [], 'an older version\'s description does not match')
  t.same((await search('current')).map((r) => r.name), ['acme/tool'], 'the newest description matches')
})
