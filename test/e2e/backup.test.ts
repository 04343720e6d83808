import t from 'tap'
import Database from 'better-sqlite3'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { cliJson, composerProject, runCli, startServer, tempDir, writePackageZip } from '../helpers/harness.js'
import { requireTools } from '../helpers/tools.js'

function sha1File (file: string): string {
  return createHash('sha1').update(readFileSync(file)).digest('hex')
}

/** The README's restore step, run literally: copy the backup into a new, empty data directory. */
function restore (backupDir: string, dataDir: string): Promise<number | null> {
  mkdirSync(dataDir, { recursive: true })
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'cp -a "$1"/. "$2"/', 'restore', backupDir, dataDir], { stdio: 'inherit' })
    child.on('error', reject)
    child.on('close', resolve)
  })
}

t.test('a backup taken while publishing restores into a working server', async (t) => {
  if (!requireTools(t, 'composer', 'php', 'unzip')) return
  const dataDir = tempDir(t)
  const work = tempDir(t)
  const backupDir = path.join(tempDir(t), 'backup-1')
  await cliJson(dataDir, ['account', 'create', 'alice'])
  const key = await cliJson(dataDir, ['key', 'create', 'alice', '--name', 'ci'])
  await cliJson(dataDir, ['publish', '--access', 'public', await writePackageZip(work, { name: 'acme/base', version: '1.0.0' })])
  const server = await startServer(t, dataDir)

  // Writers: one `packyard publish` process after another, each a new version of acme/stream.
  const zips: string[] = []
  for (let i = 0; i < 40; i++) {
    zips.push(await writePackageZip(work, { name: 'acme/stream', version: `1.0.${i}`, require: { 'acme/base': '^1.0' } },
      { files: { 'data.txt': randomBytes(512 * 1024).toString('base64') } }))
  }
  const publishes: Array<{ version: string, start: number, end: number }> = []
  const finished = new AbortController()
  const writer = (async () => {
    for (let i = 0; i < zips.length && !finished.signal.aborted; i++) {
      const start = Date.now()
      const r = await runCli(dataDir, ['--json', 'publish', '--access', 'public', zips[i]!])
      if (r.code !== 0) throw new Error(`publish failed: ${r.stderr}`)
      publishes.push({ version: `1.0.${i}`, start, end: Date.now() })
    }
  })()
  // A reader: the server keeps answering while the backup runs.
  const statuses: number[] = []
  const reader = (async () => {
    while (!finished.signal.aborted) {
      const res = await fetch(`${server.url}/healthz`)
      statuses.push(res.status)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })()

  while (publishes.length < 3) await new Promise((resolve) => setTimeout(resolve, 50))
  const backupStart = Date.now()
  const backup = await runCli(dataDir, ['--json', 'backup', backupDir])
  const backupEnd = Date.now()
  const afterBackup = publishes.length
  while (publishes.length < afterBackup + 2 && publishes.length < zips.length) await new Promise((resolve) => setTimeout(resolve, 50))
  finished.abort()
  await Promise.all([writer, reader])

  t.equal(backup.code, 0, backup.stderr)
  const result = backup.json
  t.match(result, { dir: backupDir, database: path.join(backupDir, 'packyard.sqlite'), packages: 2 })
  t.ok(publishes.some((p) => p.start < backupEnd && p.end > backupStart), 'a publish ran while the backup ran')
  t.ok(publishes.length > result.versions - 1, 'versions were published after the backup too')
  t.ok(statuses.length > 0 && statuses.every((s) => s === 200), `the server kept serving (${statuses.length} requests)`)

  // The copy is consistent: intact, and every version's archive is there with its dist.shasum.
  const db = new Database(result.database, { readonly: true })
  const versions = db.prepare('SELECT v.version, v.shasum, v.sha256 FROM versions v JOIN packages p ON p.id = v.package_id WHERE p.name = ? ORDER BY v.id').all('acme/stream') as Array<{ version: string, shasum: string, sha256: string }>
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'PRAGMA integrity_check')
  t.equal(db.pragma('journal_mode', { simple: true }), 'delete', 'a self-contained file (no -wal beside it)')
  db.close()
  t.equal(versions.length + 1, result.versions)
  t.ok(versions.length >= 3, `${versions.length} acme/stream versions in the backup`)
  // One assertion for all versions, so the test count does not depend on how many were captured.
  const archiveMismatches = versions.filter((v) => {
    const file = path.join(backupDir, 'archives', v.sha256.slice(0, 2), `${v.sha256}.zip`)
    return !existsSync(file) || sha1File(file) !== v.shasum
  }).map((v) => v.version)
  t.same(archiveMismatches, [], `every archive in the backup has its recorded SHA-1 (${versions.length} versions)`)
  t.same(readdirSync(backupDir).sort(), ['archives', 'packyard.sqlite'], 'nothing partial left behind')

  // Restore into a fresh data directory and install from it with the real Composer client.
  await server.stop()
  const restored = path.join(tempDir(t), 'restored')
  t.equal(await restore(backupDir, restored), 0, 'cp -a <backup>/. <new data dir>/')
  const newest = versions[versions.length - 1]!.version
  const listed = await cliJson(restored, ['package', 'list'])
  t.same(listed.find((p: { name: string }) => p.name === 'acme/stream').versions[0], newest, 'the restored catalogue ends where the backup did')
  const again = await startServer(t, restored)
  const project = composerProject(t, again.url, { require: { 'acme/stream': '^1.0' } })
  project.setAuth(key.publicKey, key.privateKey)
  const res = await project.run(['update'])
  t.equal(res.code, 0, 'composer update from the restored server', { output: res.output })
  const lock = JSON.parse(readFileSync(path.join(project.dir, 'composer.lock'), 'utf8'))
  t.same(lock.packages.map((p: { name: string, version: string }) => `${p.name}@${p.version}`).sort(), ['acme/base@1.0.0', `acme/stream@${newest}`])
  t.ok(existsSync(path.join(project.dir, 'vendor/acme/stream/data.txt')))
})

t.test('a second backup into the same directory copies only new archives', async (t) => {
  const dataDir = tempDir(t)
  const work = tempDir(t)
  const backupDir = path.join(tempDir(t), 'nightly')
  await cliJson(dataDir, ['publish', await writePackageZip(work, { name: 'acme/one', version: '1.0.0' })])
  const first = await cliJson(dataDir, ['backup', backupDir])
  t.match(first, { archives: 1, copied: 1, versions: 1 })
  await cliJson(dataDir, ['publish', await writePackageZip(work, { name: 'acme/one', version: '1.1.0' })])
  const second = await cliJson(dataDir, ['backup', backupDir])
  t.match(second, { archives: 2, copied: 1, versions: 2 })
  t.ok(second.bytes > first.bytes)
  const human = await runCli(dataDir, ['backup', backupDir])
  t.equal(human.code, 0)
  t.match(human.stdout, /^backed up 1 packages, 2 versions and 2 archives \(0 new; \d+ bytes\) to /)
})

t.test('backup refuses the data directory itself', async (t) => {
  const dataDir = tempDir(t)
  const r = await runCli(dataDir, ['backup', dataDir])
  t.equal(r.code, 1)
  t.match(r.stderr, /^packyard: backup directory .* is the data directory/)
})

t.test('a database the backup names but whose archive is gone fails the backup loudly', async (t) => {
  const dataDir = tempDir(t)
  const work = tempDir(t)
  const [v] = await cliJson(dataDir, ['publish', await writePackageZip(work, { name: 'acme/gone', version: '1.0.0' })])
  const db = new Database(path.join(dataDir, 'packyard.sqlite'), { readonly: true })
  const { sha256 } = db.prepare('SELECT sha256 FROM versions WHERE shasum = ?').get(v.shasum) as { sha256: string }
  db.close()
  rmSync(path.join(dataDir, 'archives', sha256.slice(0, 2), `${sha256}.zip`))
  const backupDir = path.join(tempDir(t), 'b')
  const r = await runCli(dataDir, ['backup', backupDir])
  t.equal(r.code, 1)
  t.match(r.stderr, /1 archive\(s\) named by the database are missing/)
  t.same(readdirSync(backupDir).filter((f) => f !== 'archives'), [], 'no packyard.sqlite (not mistaken for a complete backup), no partial file')
})
