// Upgrading in place (README, Operations → Upgrading): a data directory written by an older
// release is migrated when the new release opens it; one from a newer release is refused.
import t from 'tap'
import Database from 'better-sqlite3'
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { migrate } from '../../src/db/database.js'
import { ROOT, runCli, startServer, tempDir } from '../helpers/harness.js'

const MIGRATIONS = path.join(ROOT, 'migrations')
const latest = Math.max(...readdirSync(MIGRATIONS).filter((f) => /^\d{3}-.*\.sql$/.test(f)).map((f) => Number(f.slice(0, 3))))

t.test('a data directory from the first release is migrated at start-up, data kept', async (t) => {
  const dataDir = tempDir(t)
  const first = path.join(tempDir(t), 'migrations')
  mkdirSync(first)
  copyFileSync(path.join(MIGRATIONS, '001-core.sql'), path.join(first, '001-core.sql'))
  const old = new Database(path.join(dataDir, 'packyard.sqlite'))
  old.pragma('journal_mode = WAL')
  t.equal(migrate(old, first), 1, 'schema of release 1')
  old.prepare("INSERT INTO accounts (username, mage_id, email, created_at) VALUES ('alice', 'MAG000000001', 'a@example.com', '2030-01-01T00:00:00Z')").run()
  old.prepare("INSERT INTO packages (name, access, created_at, metadata_updated_at) VALUES ('acme/old', 'public', '2030-01-01T00:00:00Z', 1)").run()
  old.close()

  const server = await startServer(t, dataDir)
  t.equal((await fetch(`${server.url}/healthz`)).status, 200, 'the new release starts on the old data')
  t.equal(await server.stop(), 0)
  const db = new Database(path.join(dataDir, 'packyard.sqlite'), { readonly: true })
  t.equal(db.pragma('user_version', { simple: true }), latest, `migrated to schema ${latest}`)
  db.close()
  const accounts = await runCli(dataDir, ['--json', 'account', 'list'])
  t.match(accounts.json, [{ username: 'alice', mageId: 'MAG000000001', email: 'a@example.com' }])
  const packages = await runCli(dataDir, ['--json', 'package', 'list'])
  t.match(packages.json, [{ name: 'acme/old', access: 'public' }])
})

t.test('a data directory from a newer release is refused, untouched', async (t) => {
  const dataDir = tempDir(t)
  t.equal((await runCli(dataDir, ['account', 'list'])).code, 0)
  const db = new Database(path.join(dataDir, 'packyard.sqlite'))
  db.pragma(`user_version = ${latest + 1}`)
  db.close()
  const list = await runCli(dataDir, ['account', 'list'])
  t.equal(list.code, 1)
  t.match(list.stderr, /schema version \d+ is newer than this release knows .*upgrade Packyard instead of downgrading/)
  await t.rejects(startServer(t, dataDir), /server exited \(1\) before listening/, 'serve refuses to start')
  const after = new Database(path.join(dataDir, 'packyard.sqlite'), { readonly: true })
  t.equal(after.pragma('user_version', { simple: true }), latest + 1, 'not touched')
  after.close()
})
