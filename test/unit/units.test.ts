import t from 'tap'
import Database from 'better-sqlite3'
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { ROOT, tempDir } from '../helpers/harness.js'
import { buildPackageMetadata, minify, versionDocument, withBaseUrl, BASE_URL_TOKEN } from '../../src/composer/metadata.js'
import { ConfigError, loadConfig } from '../../src/config.js'
import { generateKey, generateMageId, hashPassword, hashSecret, KEY_PATTERN, secretMatches, verifyPassword } from '../../src/services/secrets.js'
import { migrate, openDatabase } from '../../src/db/database.js'
import { createTransactional } from '../../src/repositories/transaction.js'
import { createAccessLog } from '../../src/logger.js'
import { expand } from '../helpers/util.js'

type Json = Record<string, unknown>

/** A copy of this release's migrations numbered below `number` (e.g. '016'), in `dir`/migrations: a database as an older release left it. */
function migrationsBefore (dir: string, number: string): string {
  const out = path.join(dir, 'migrations')
  mkdirSync(out)
  const all = path.join(ROOT, 'migrations')
  for (const f of readdirSync(all).filter((f) => /^\d{3}-/.test(f) && f < number)) copyFileSync(path.join(all, f), path.join(out, f))
  return out
}

t.test('minify()', async (t) => {
  t.test('the example of docs/composer-protocol.md §2.3, byte for byte', async (t) => {
    const expanded: Json[] = [
      {
        name: 'acme/widget',
        version: '2.1.0-p1',
        version_normalized: '2.1.0.0-patch1',
        type: 'library',
        require: { php: '>=8.1' },
        dist: { type: 'zip', url: 'https://repo.example.test/archives/acme/widget/acme-widget-2.1.0.0-patch1.zip', reference: null, shasum: '1111111111111111111111111111111111111111' },
        autoload: { 'psr-4': { 'Acme\\Widget\\': '' } },
        time: '2030-03-01T10:00:00+00:00',
        extra: { 'magento-force': 'override' }
      },
      {
        name: 'acme/widget',
        version: '2.1.0',
        version_normalized: '2.1.0.0',
        type: 'library',
        require: { php: '>=8.1' },
        dist: { type: 'zip', url: 'https://repo.example.test/archives/acme/widget/acme-widget-2.1.0.0.zip', reference: null, shasum: '2222222222222222222222222222222222222222' },
        autoload: { 'psr-4': { 'Acme\\Widget\\': '' } },
        time: '2030-02-01T10:00:00+00:00'
      }
    ]
    const expected = [
      expanded[0],
      {
        version: '2.1.0',
        version_normalized: '2.1.0.0',
        dist: { type: 'zip', url: 'https://repo.example.test/archives/acme/widget/acme-widget-2.1.0.0.zip', reference: null, shasum: '2222222222222222222222222222222222222222' },
        time: '2030-02-01T10:00:00+00:00',
        extra: '__unset'
      }
    ]
    const input = structuredClone(expanded)
    const minified = minify(input)
    t.equal(JSON.stringify(minified), JSON.stringify(expected), 'same keys, values and order')
    t.same(input, expanded, 'the input is not modified')
    t.same(expand(minified), expanded, 'Composer expands it back')
  })

  t.test('shallow: a changed nested object is emitted whole', async (t) => {
    const a = { name: 'acme/x', version: '2.0.0', require: { php: '>=8.1', 'acme/y': '^1.0' }, autoload: { 'psr-4': { 'X\\': 'src/' } } }
    const b = { name: 'acme/x', version: '1.0.0', require: { php: '>=8.1', 'acme/y': '^2.0' }, autoload: { 'psr-4': { 'X\\': 'src/' } } }
    const [, diff] = minify([a, b])
    t.same(diff, { version: '1.0.0', require: { php: '>=8.1', 'acme/y': '^2.0' } })
  })

  t.test('keys added back after an "__unset" come back whole, and the first entry is complete', async (t) => {
    const versions: Json[] = [
      { name: 'acme/x', version: '4.0.0', extra: { a: 1 }, bin: ['bin/x'] },
      { name: 'acme/x', version: '3.0.0' },
      { name: 'acme/x', version: '2.0.0', extra: { a: 1 } },
      { name: 'acme/x', version: '1.0.0', extra: { a: 1 }, bin: ['bin/x'], type: 'library' }
    ]
    const minified = minify(versions)
    t.same(minified, [
      versions[0],
      { version: '3.0.0', extra: '__unset', bin: '__unset' },
      { version: '2.0.0', extra: { a: 1 } },
      { version: '1.0.0', bin: ['bin/x'], type: 'library' }
    ])
    t.same(expand(minified), versions)
  })

  t.test('round trip over generated versions', async (t) => {
    const pick = <T>(list: T[], i: number): T => list[i % list.length]!
    const versions: Json[] = []
    for (let i = 0; i < 50; i++) {
      const v: Json = { name: 'acme/gen', version: `1.${50 - i}.0` }
      if (i % 3 !== 0) v.require = { php: pick(['>=8.1', '>=8.2', '^8.3'], i) }
      if (i % 4 === 1) v.extra = { n: i % 2 }
      if (i % 5 === 2) v.bin = ['bin/gen']
      v.dist = { type: 'zip', url: `https://x.test/${i}.zip`, reference: null, shasum: String(i).padStart(40, '0') }
      versions.push(v)
    }
    const minified = minify(versions)
    t.same(expand(minified), versions)
    t.ok(JSON.stringify(minified).length < JSON.stringify(versions).length, 'smaller than the expanded list')
    t.same(minify([]), [])
  })

  t.test('stored documents: no top-level null, base URL filled in as valid JSON', async (t) => {
    const doc = versionDocument({
      name: 'acme/x',
      version: '1.0.0',
      versionNormalized: '1.0.0.0',
      distFile: 'acme-x-1.0.0.0.zip',
      shasum: 'a'.repeat(40),
      manifest: { description: null, type: 'library', abandoned: null } as unknown as Json,
      releasedAt: '2030-01-01T00:00:00.000Z'
    })
    t.notOk('description' in doc)
    t.notOk('abandoned' in doc)
    t.equal(doc.type, 'library')
    const built = buildPackageMetadata('acme/x', [
      { name: 'acme/x', version: '1.0.0', versionNormalized: '1.0.0.0', distFile: 'a.zip', shasum: 'a'.repeat(40), manifest: {}, releasedAt: '2030-01-01T00:00:00.000Z' },
      { name: 'acme/x', version: 'dev-main', versionNormalized: 'dev-main', distFile: 'b.zip', shasum: 'b'.repeat(40), manifest: {}, releasedAt: '2030-01-01T00:00:00.000Z' }
    ])
    t.ok(built.stable!.includes(BASE_URL_TOKEN))
    const served = JSON.parse(withBaseUrl(built.stable!, 'https://h.test/a"b\\c')) as { minified: string, packages: Record<string, Json[]> }
    t.equal(served.minified, 'composer/2.0')
    t.equal((served.packages['acme/x']![0]!.dist as Json).url, 'https://h.test/a"b\\c/archives/acme/x/a.zip')
    t.same(buildPackageMetadata('acme/x', []), { stable: null, dev: null })
  })
})

t.test('loadConfig()', async (t) => {
  t.test('defaults', async (t) => {
    const c = loadConfig({}, {}, '/srv/app')
    // t.has: settings added later by other features must not break this test.
    t.has(c, {
      dataDir: '/srv/app/storage',
      dbPath: '/srv/app/storage/packyard.sqlite',
      archiveDir: '/srv/app/storage/archives',
      host: '0.0.0.0',
      port: 8080,
      publicUrl: undefined,
      trustProxy: false,
      logLevel: 'info',
      realm: 'Packyard',
      lastUsedFlushMs: 30000
    })
    t.equal(c.publicUrl, undefined, 'no public URL: derived from each request')
    t.ok(Object.isFrozen(c), 'frozen')
  })

  t.test('environment, and explicit values over the environment', async (t) => {
    const env = {
      PACKYARD_DATA_DIR: 'data',
      PACKYARD_HOST: '127.0.0.1',
      PACKYARD_PORT: '9000',
      PACKYARD_PUBLIC_URL: 'https://packages.example.test/repo/',
      PACKYARD_TRUST_PROXY: 'yes',
      PACKYARD_LOG_LEVEL: 'warn',
      PACKYARD_REALM: 'Acme packages',
      PACKYARD_LAST_USED_FLUSH_MS: '0'
    }
    const c = loadConfig(env, {}, '/srv/app')
    t.equal(c.dataDir, '/srv/app/data', 'relative paths resolve against cwd')
    t.equal(c.host, '127.0.0.1')
    t.equal(c.port, 9000)
    t.equal(c.publicUrl, 'https://packages.example.test/repo', 'trailing slash removed')
    t.equal(c.trustProxy, true)
    t.equal(c.logLevel, 'warn')
    t.equal(c.realm, 'Acme packages')
    t.equal(c.lastUsedFlushMs, 0)
    const o = loadConfig(env, { dataDir: '/abs/dir', port: 0, trustProxy: false, host: '::1' }, '/srv/app')
    t.equal(o.dataDir, '/abs/dir')
    t.equal(o.port, 0)
    t.equal(o.trustProxy, false)
    t.equal(o.host, '::1')
    t.equal(loadConfig({ PACKYARD_PORT: '' }).port, 8080, 'an empty variable counts as unset')
  })

  t.test('invalid values are refused with a message naming the setting', async (t) => {
    const bad: Array<[Record<string, string>, RegExp]> = [
      [{ PACKYARD_PORT: 'http' }, /invalid port "http"/],
      [{ PACKYARD_PORT: '65536' }, /invalid port/],
      [{ PACKYARD_PORT: '-1' }, /invalid port/],
      [{ PACKYARD_PORT: '80.5' }, /invalid port/],
      [{ PACKYARD_LOG_LEVEL: 'verbose' }, /invalid log level "verbose"/],
      [{ PACKYARD_TRUST_PROXY: 'maybe' }, /invalid PACKYARD_TRUST_PROXY "maybe"/],
      [{ PACKYARD_PUBLIC_URL: 'packages.example.test' }, /invalid PACKYARD_PUBLIC_URL/],
      [{ PACKYARD_PUBLIC_URL: 'ftp://packages.example.test' }, /use http or https/],
      [{ PACKYARD_PUBLIC_URL: 'https://u:p@packages.example.test' }, /no query, fragment or credentials/],
      [{ PACKYARD_PUBLIC_URL: 'https://packages.example.test/?x=1' }, /no query, fragment or credentials/],
      [{ PACKYARD_PUBLIC_URL: 'https://packages.example.test/#top' }, /no query, fragment or credentials/],
      [{ PACKYARD_LAST_USED_FLUSH_MS: '-5' }, /PACKYARD_LAST_USED_FLUSH_MS/],
      [{ PACKYARD_LAST_USED_FLUSH_MS: 'soon' }, /PACKYARD_LAST_USED_FLUSH_MS/]
    ]
    for (const [env, message] of bad) {
      t.throws(() => loadConfig(env), { name: 'ConfigError', message }, JSON.stringify(env))
      try { loadConfig(env) } catch (err) { t.ok(err instanceof ConfigError) }
    }
    t.throws(() => loadConfig({}, { port: 'x' }), ConfigError, 'explicit values are validated too')
  })
})

t.test('secrets', async (t) => {
  t.test('generateKey: 32 lowercase hex characters, unique', async (t) => {
    const keys = new Set<string>()
    let wellFormed = 0
    for (let i = 0; i < 1000; i++) {
      const k = generateKey()
      if (/^[0-9a-f]{32}$/.test(k) && KEY_PATTERN.test(k)) wellFormed++
      keys.add(k)
    }
    t.equal(wellFormed, 1000)
    t.equal(keys.size, 1000, 'no repeats over 1000 draws')
    t.notOk(KEY_PATTERN.test('0123456789ABCDEF0123456789ABCDEF'), 'upper case is not a key')
    t.notOk(KEY_PATTERN.test('0123456789abcdef0123456789abcde'), '31 characters is not a key')
    t.notOk(KEY_PATTERN.test('0123456789abcdef0123456789abcdef\n'), 'a trailing newline is not a key')
  })

  t.test('hashSecret / secretMatches', async (t) => {
    const secret = generateKey()
    const stored = hashSecret(secret)
    t.ok(Buffer.isBuffer(stored))
    t.equal(stored.length, 32, 'SHA-256')
    t.not(stored.toString('hex'), secret, 'not stored in plain text')
    t.ok(hashSecret(secret).equals(stored), 'deterministic')
    t.equal(secretMatches(secret, stored), true)
    t.equal(secretMatches(generateKey(), stored), false)
    t.equal(secretMatches(secret.toUpperCase(), stored), false, 'case matters')
    t.equal(secretMatches(secret.slice(0, 31), stored), false, 'a shorter secret is compared, not thrown on')
    t.equal(secretMatches(secret + 'x'.repeat(8000), stored), false, 'a much longer one too')
    t.equal(secretMatches('', stored), false)
    t.equal(secretMatches(secret, Buffer.alloc(0)), false, 'a stored hash of another length does not throw')
    t.equal(secretMatches(secret, Buffer.alloc(16)), false)
    t.equal(secretMatches(secret, stored.subarray(0, 31)), false)
  })

  t.test('generateMageId and passwords', async (t) => {
    for (let i = 0; i < 50; i++) t.match(generateMageId(), /^MAG\d{9}$/)
    const hash = await hashPassword('correct horse battery')
    t.match(hash, /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/)
    t.notMatch(hash, /correct horse/)
    t.equal(await verifyPassword('correct horse battery', hash), true)
    t.equal(await verifyPassword('correct horse batterY', hash), false)
    t.equal(await verifyPassword('anything', null), false, 'no password set')
    t.equal(await verifyPassword('anything', 'garbage'), false)
    t.not(await hashPassword('correct horse battery'), hash, 'salted')
  })
})

t.test('migrate()', async (t) => {
  const tables = (db: Database.Database): unknown[] =>
    db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all()

  t.test('a fresh database gets every migration; running again is a no-op', async (t) => {
    const file = path.join(tempDir(t), 'p.sqlite')
    const db = openDatabase(file)
    t.teardown(() => db.close())
    const version = db.pragma('user_version', { simple: true })
    t.ok(typeof version === 'number' && version >= 1, `schema version ${String(version)}`)
    const names = (tables(db) as Array<{ name: string }>).map((r) => r.name)
    for (const table of ['accounts', 'access_keys', 'packages', 'versions', 'grants']) t.ok(names.includes(table), `table ${table}`)
    t.equal(db.pragma('journal_mode', { simple: true }), 'wal')
    t.equal(db.pragma('foreign_keys', { simple: true }), 1)
    t.ok((db.pragma('busy_timeout', { simple: true }) as number) > 0)

    db.prepare("INSERT INTO accounts (username, mage_id, created_at) VALUES ('alice', 'MAG000000001', '2030-01-01')").run()
    const schema = tables(db)
    t.equal(migrate(db), version, 'same version')
    t.equal(migrate(db), version)
    t.same(tables(db), schema, 'schema unchanged')
    t.equal((db.prepare('SELECT count(*) AS n FROM accounts').get() as { n: number }).n, 1, 'data kept')

    db.close()
    const again = openDatabase(file)
    t.teardown(() => { if (again.open) again.close() })
    t.same(tables(again), schema, 'reopening migrates nothing')
    again.close()
  })

  t.test('a database from a newer release is refused, untouched', async (t) => {
    const file = path.join(tempDir(t), 'p.sqlite')
    const db = openDatabase(file)
    const schema = tables(db)
    db.pragma('user_version = 999')
    t.throws(() => migrate(db), { message: /schema version 999 is newer/ })
    t.equal(db.pragma('user_version', { simple: true }), 999)
    t.same(tables(db), schema)
    db.close()
    t.throws(() => openDatabase(file), { message: /newer than this release knows/ }, 'openDatabase refuses it too')
  })

  t.test('015 keeps every advisory under its package\'s name; deleting the package still deletes them', async (t) => {
    const dir = tempDir(t)
    const upTo014 = migrationsBefore(dir, '015')
    const db = new Database(path.join(dir, 'm.sqlite'))
    t.teardown(() => db.close())
    db.pragma('foreign_keys = ON')
    t.equal(migrate(db, upTo014), 14)
    db.prepare("INSERT INTO packages (id, name, access, created_at, metadata_updated_at) VALUES (7, 'acme/tool', 'public', '2030-01-01', 1)").run()
    db.prepare("INSERT INTO advisories (id, package_id, affected_versions, title, cve, link, severity, reported_at) VALUES (3, 7, '<1.2', 'Hole', 'CVE-2030-1111', NULL, 'high', '2030-01-02 00:00:00')").run()
    t.ok(migrate(db) >= 15)
    t.same(db.prepare('SELECT * FROM advisories').all(), [{
      id: 3, package_name: 'acme/tool', package_id: 7, affected_versions: '<1.2', title: 'Hole', cve: 'CVE-2030-1111', link: null, severity: 'high', reported_at: '2030-01-02 00:00:00'
    }], 'same id (PACKYARD-3), same fields')
    db.prepare("INSERT INTO advisories (package_name, package_id, affected_versions, title, reported_at) VALUES ('magento/framework', NULL, '<2', 'Mirrored', '2030-01-03 00:00:00')").run()
    db.prepare('DELETE FROM packages WHERE id = 7').run()
    t.same(db.prepare('SELECT package_name FROM advisories').all(), [{ package_name: 'magento/framework' }], 'the local package\'s advisory went with it')
  })

  t.test('016 moves the p2 documents out of packages, keeps them, and leaves packages compact', async (t) => {
    const dir = tempDir(t)
    const upTo015 = migrationsBefore(dir, '016')
    const db = new Database(path.join(dir, 'm.sqlite'))
    t.teardown(() => db.close())
    db.pragma('foreign_keys = ON')
    t.equal(migrate(db, upTo015), 15)
    const insert = db.prepare("INSERT INTO packages (id, name, access, created_at, metadata_updated_at, metadata, metadata_dev) VALUES (?, ?, 'public', '2030-01-01', 5, ?, ?)")
    // Documents of several KiB, as real ones are: each row needs a page or more of its own.
    for (let i = 1; i <= 200; i++) insert.run(i, `acme/p${i}`, `{"stable":"${'s'.repeat(6000)}${i}"}`, i % 2 === 0 ? null : `{"dev":${i}}`)
    const pagesOf = (table: string): number => (db.prepare('SELECT count(*) AS n FROM dbstat WHERE name = ?').get(table) as { n: number }).n
    const before = pagesOf('packages')
    t.ok(migrate(db) >= 16)
    t.same(db.prepare('SELECT package_id, length(metadata) AS len, metadata_dev FROM package_documents WHERE package_id IN (1, 2) ORDER BY package_id').all(),
      [{ package_id: 1, len: 6014, metadata_dev: '{"dev":1}' }, { package_id: 2, len: 6014, metadata_dev: null }], 'every document kept')
    t.equal((db.prepare('SELECT count(*) AS n FROM package_documents').get() as { n: number }).n, 200)
    t.notOk((db.prepare('SELECT name FROM pragma_table_info(\'packages\')').all() as Array<{ name: string }>).some((c) => c.name.startsWith('metadata_dev')), 'the columns left packages')
    const after = pagesOf('packages')
    t.ok(after * 20 < before, `packages shrank from ${before} to ${after} pages (VACUUM after the migration)`)
    db.prepare('DELETE FROM packages WHERE id = 1').run()
    t.equal((db.prepare('SELECT count(*) AS n FROM package_documents WHERE package_id = 1').get() as { n: number }).n, 0, 'a deleted package takes its documents along')
  })

  t.test('only newer migrations run, each in a transaction with its version bump', async (t) => {
    const dir = tempDir(t)
    const migrations = path.join(dir, 'migrations')
    mkdirSync(migrations)
    writeFileSync(path.join(migrations, '001-one.sql'), 'CREATE TABLE one (id INTEGER PRIMARY KEY) STRICT;')
    writeFileSync(path.join(migrations, 'README.md'), 'not a migration')
    const db = new Database(path.join(dir, 'm.sqlite'))
    t.teardown(() => db.close())
    t.equal(migrate(db, migrations), 1)
    writeFileSync(path.join(migrations, '002-two.sql'), 'CREATE TABLE two (id INTEGER PRIMARY KEY) STRICT; INSERT INTO one (id) VALUES (1);')
    t.equal(migrate(db, migrations), 2)
    t.equal((db.prepare('SELECT count(*) AS n FROM one').get() as { n: number }).n, 1, '002 ran once')
    t.equal(migrate(db, migrations), 2)
    t.equal((db.prepare('SELECT count(*) AS n FROM one').get() as { n: number }).n, 1, 'and not again')

    writeFileSync(path.join(migrations, '003-broken.sql'), 'CREATE TABLE three (id INTEGER PRIMARY KEY) STRICT; INSERT INTO nowhere VALUES (1);')
    t.throws(() => migrate(db, migrations), /no such table: nowhere/)
    t.equal(db.pragma('user_version', { simple: true }), 2, 'version not bumped')
    const names = (tables(db) as Array<{ name: string }>).map((r) => r.name)
    t.notOk(names.includes('three'), 'the failed migration left nothing behind')
  })
})

t.test('the CLI refuses a Node.js older than package.json engines, with a clear message', async (t) => {
  const { unsupportedNode } = await import('../../src/cli/main.js')
  t.equal(unsupportedNode(process.versions.node), undefined, 'this Node is supported')
  t.match(unsupportedNode('20.19.0'), /^Packyard needs Node\.js >=24; this is 20\.19\.0$/)
  t.match(unsupportedNode('22.12.0'), /needs Node\.js/)
  t.equal(unsupportedNode('24.0.0'), undefined)
})

t.test('release version filters match like a shell glob, in linear time', async (t) => {
  const { globMatch, versionMatcher } = await import('../../src/services/downloads.js')
  const m = versionMatcher('2.4.*')
  t.ok(m('2.4.6-p3'))
  t.ok(m('2.4.'))
  t.notOk(m('2.5.0'))
  t.notOk(m('12.4.1'))
  t.ok(versionMatcher('*-p3')('2.4.6-P3'), 'case-insensitive')
  t.ok(versionMatcher('2.*.6*')('2.4.6-p3'))
  t.notOk(versionMatcher('2.*.7*')('2.4.6-p3'))
  t.ok(versionMatcher('2.4')('2.4.6'), 'a plain prefix matches its sub-versions')
  t.notOk(versionMatcher('2.4')('2.45.0'))
  t.ok(globMatch('a*b*c', 'axxbyyc'))
  t.notOk(globMatch('a*b*c', 'axxbyy'))
  t.ok(globMatch('*', ''))
  t.notOk(globMatch('', 'a'))
  // A regex built from this pattern took tens of seconds (catastrophic backtracking).
  const evil = '*'.repeat(200) + 'x'
  const evil2 = '*.'.repeat(100) + 'x'
  const long = '2.4.7-beta1.'.repeat(20)
  const start = process.hrtime.bigint()
  t.notOk(versionMatcher(evil)(long))
  t.notOk(versionMatcher(evil2)(long))
  t.notOk(globMatch(evil2, long))
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  t.ok(ms < 1000, `pathological patterns finish quickly (${ms.toFixed(1)} ms)`)
})

// Two writers on one database file (the server and the CLI, or two servers). A service
// transaction reads, then writes; if the other connection commits in between, a deferred
// transaction fails at once with SQLITE_BUSY ("database is locked", no busy wait), which a
// CLI command beside a busy server ran into. Service transactions begin IMMEDIATE: the
// other writer waits (here: gives up, with no busy timeout) and ours commits.
t.test('service transactions take the write lock first, so a write in between cannot fail them', async (t) => {
  const file = path.join(tempDir(t), 'two-writers.sqlite')
  const ours = openDatabase(file)
  migrate(ours)
  const theirs = openDatabase(file)
  theirs.pragma('busy_timeout = 0')
  t.teardown(() => { ours.close(); theirs.close() })
  ours.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)')
  const transaction = createTransactional(ours)
  let theirsFailed = false
  const result = transaction(() => {
    const before = ours.prepare('SELECT count(*) AS n FROM notes').get() as { n: number }
    try {
      theirs.prepare("INSERT INTO notes (text) VALUES ('theirs')").run()
    } catch (err) {
      theirsFailed = (err as { code?: string }).code === 'SQLITE_BUSY'
    }
    ours.prepare("INSERT INTO notes (text) VALUES ('ours')").run()
    return before.n
  })()
  t.equal(result, 0)
  t.ok(theirsFailed, 'the other writer waited for the lock (and, with no busy timeout, gave up)')
  t.same(ours.prepare('SELECT text FROM notes').all(), [{ text: 'ours' }], 'our read-then-write committed')
})

// Access lines quote plain strings as they are and escape the rest with JSON.stringify: every
// line must parse back to exactly the values logged, whatever a client put in its URL.
t.test('access lines are valid JSON for any URL, address and request id', async (t) => {
  const lines: string[] = []
  const log = createAccessLog('info', { write: (line: string) => lines.push(line) })!
  const urls = ['/p2/acme/widget.json', '/a"b', '/back\\slash', '/tab\there', '/nl\nx', '/ü/€', '/\u0000', "/'single'", '/%22encoded%22', '']
  for (const url of urls) log('req-1', 'GET', url, 404, '::ffff:127.0.0.1', 1.26)
  log('a"id', 'GET', '/', 200, 'fe80::1%eth0', 0)
  t.equal(lines.length, urls.length + 1)
  t.same(lines.slice(0, urls.length).map((l) => JSON.parse(l).url), urls, 'every URL comes back exactly')
  t.match(JSON.parse(lines[0]!), { level: 30, reqId: 'req-1', method: 'GET', statusCode: 404, ip: '::ffff:127.0.0.1', ms: 1.3, msg: 'request' })
  t.match(JSON.parse(lines[urls.length]!), { reqId: 'a"id', ip: 'fe80::1%eth0' })
  t.ok(lines.every((l) => l.endsWith('}\n') && !l.slice(0, -1).includes('\n')), 'one line each')
})
