import t, { type Test } from 'tap'
import Database from 'better-sqlite3'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { basic, runCliQuick, cliJsonQuick, buildTestApp, makeZip, tempDir, writePackageZip, type CliResult } from '../helpers/harness.js'
import { loadConfig } from '../../src/config.js'
import { createContext, type Context } from '../../src/context.js'
import { inParallel } from '../helpers/util.js'

const cli = runCliQuick
const cliOk = cliJsonQuick

type Json = Record<string, any>

/** Everything publishing could touch: package and version rows (metadata included) and every file under archives/. */
function snapshot (dataDir: string): { packages: unknown[], versions: unknown[], grants: unknown[], files: string[] } {
  const db = new Database(path.join(dataDir, 'packyard.sqlite'), { readonly: true, fileMustExist: true })
  try {
    const archives = path.join(dataDir, 'archives')
    return {
      packages: db.prepare('SELECT * FROM packages ORDER BY id').all(),
      versions: db.prepare('SELECT * FROM versions ORDER BY id').all(),
      grants: db.prepare('SELECT * FROM grants ORDER BY account_id, package_id').all(),
      files: readdirSync(archives, { recursive: true, encoding: 'utf8' }).sort()
    }
  } finally {
    db.close()
  }
}

function tmpFiles (dataDir: string): string[] {
  return readdirSync(path.join(dataDir, 'archives', 'tmp'))
}

function assertRefused (t: Test, r: CliResult, message: RegExp, what: string): void {
  t.equal(r.code, 1, `${what}: exit code 1 (stderr: ${r.stderr.trim()})`)
  t.equal(r.stdout, '', `${what}: nothing on stdout`)
  t.match(r.stderr, /^packyard: [^\n]+\n$/, `${what}: one line on stderr`)
  t.match(r.stderr, message, `${what}: a clear message`)
  t.notMatch(r.stderr, /\bat .+:\d+:\d+|file:\/\/|SqliteError|unexpected error/, `${what}: no internals`)
}

async function zipFile (dir: string, name: string, files: Record<string, string | Buffer>, prefix?: string): Promise<string> {
  const file = path.join(dir, name)
  writeFileSync(file, await makeZip(files, prefix === undefined ? {} : { prefix }))
  return file
}

/** Seeds through the services, in process: quicker than the CLI where the CLI is not under test. */
async function withContext<T> (dataDir: string, fn: (ctx: Context) => T | Promise<T>): Promise<T> {
  const ctx = createContext(loadConfig({}, { dataDir, logLevel: 'silent' }))
  try {
    return await fn(ctx)
  } finally {
    ctx.close()
  }
}

/** A data directory holding acme/base 1.0.0 (public), with a restricted acme/pro granted to alice. */
async function seeded (t: Test) {
  const dataDir = tempDir(t)
  const work = tempDir(t)
  const base = await writePackageZip(work, { name: 'acme/base', version: '1.0.0', description: 'Base' })
  const pro = await writePackageZip(work, { name: 'acme/pro', version: '2.0.0' })
  await withContext(dataDir, async (ctx) => {
    const alice = await ctx.accounts.create({ username: 'alice' })
    await ctx.catalog.publish(base, { access: 'public' })
    await ctx.catalog.publish(pro)
    ctx.catalog.grant(alice.id, 'acme/pro')
  })
  return { dataDir, work, base }
}

function packageList (dataDir: string) {
  return withContext(dataDir, (ctx) => ctx.catalog.list())
}

t.test('bad archives are refused with one clear line and change nothing', async (t) => {
  const { dataDir, work } = await seeded(t)
  const composer = (json: unknown): Record<string, string> => ({ 'composer.json': typeof json === 'string' ? json : JSON.stringify(json) })
  const valid = { name: 'acme/widget', version: '1.0.0' }
  const validZip = await makeZip(composer(valid))

  const notZip = path.join(work, 'not-a-zip.zip')
  writeFileSync(notZip, 'this is plain text, not a zip archive\n')
  const empty = path.join(work, 'empty.zip')
  writeFileSync(empty, '')
  const truncated = path.join(work, 'truncated.zip')
  writeFileSync(truncated, validZip.subarray(0, Math.floor(validZip.length / 2)))

  const cases: Array<[string, string[], RegExp]> = [
    ['a non-zip file', [notZip], /not-a-zip\.zip: not a valid zip archive/],
    ['an empty file', [empty], /empty\.zip: not a valid zip archive/],
    ['a truncated zip', [truncated], /truncated\.zip: (not a valid zip archive|cannot read composer\.json)/],
    ['a missing file', [path.join(work, 'missing.zip')], /missing\.zip: cannot read file/],
    ['a zip without composer.json', [await zipFile(work, 'no-composer.zip', { 'README.md': '# hi', 'src/A.php': '<?php' })], /no composer\.json/],
    ['a zip with two top-level folders', [await zipFile(work, 'two-folders.zip', {
      'one/composer.json': JSON.stringify(valid),
      'two/composer.json': JSON.stringify({ ...valid, name: 'acme/other' })
    })], /no composer\.json/],
    ['composer.json two folders deep', [await zipFile(work, 'deep.zip', { 'inner/composer.json': JSON.stringify(valid) }, 'outer')], /no composer\.json/],
    ['invalid JSON', [await zipFile(work, 'bad-json.zip', composer('{"name": "acme/widget", "version": '))], /bad-json\.zip: composer\.json is not valid JSON/],
    ['composer.json is an array', [await zipFile(work, 'array.zip', composer([valid]))], /composer\.json must be a JSON object/],
    ['composer.json is a string', [await zipFile(work, 'string.zip', composer('"acme/widget"'))], /composer\.json must be a JSON object/],
    ['composer.json is null', [await zipFile(work, 'null.zip', composer('null'))], /composer\.json must be a JSON object/],
    ['no name', [await zipFile(work, 'no-name.zip', composer({ version: '1.0.0' }))], /composer\.json has no "name"/],
    ['an upper-case name', [await zipFile(work, 'upper.zip', composer({ ...valid, name: 'Acme/Widget' }))], /invalid package name "Acme\/Widget"/],
    ['a name without a slash', [await zipFile(work, 'no-slash.zip', composer({ ...valid, name: 'acmewidget' }))], /invalid package name "acmewidget"/],
    ['a name with two slashes', [await zipFile(work, 'two-slashes.zip', composer({ ...valid, name: 'acme/widget/extra' }))], /invalid package name/],
    ['version 1.0.0-SNAPSHOT', [await zipFile(work, 'snapshot.zip', composer({ ...valid, version: '1.0.0-SNAPSHOT' }))], /invalid version "1\.0\.0-SNAPSHOT"/],
    ['version main', [await zipFile(work, 'main.zip', composer({ ...valid, version: 'main' }))], /invalid version "main"/],
    ['version 2.4-develop', [await zipFile(work, 'develop.zip', composer({ ...valid, version: '2.4-develop' }))], /invalid version "2\.4-develop"/],
    ['version 1.0.0-1', [await zipFile(work, 'dash-one.zip', composer({ ...valid, version: '1.0.0-1' }))], /invalid version "1\.0\.0-1"/],
    ['a numeric version', [await zipFile(work, 'numeric.zip', composer({ ...valid, version: 1 }))], /has no "version"/],
    ['a missing version', [await zipFile(work, 'no-version.zip', composer({ name: 'acme/widget' }))], /no-version\.zip: composer\.json has no "version": add one or pass --version/],
    ['a non-string constraint in require', [await zipFile(work, 'bad-require.zip', composer({ ...valid, require: { php: 8 } }))], /"require" must map package names to constraint strings/],
    ['require as a list of names', [await zipFile(work, 'list-require.zip', composer({ ...valid, require: ['acme/base'] }))], /"require" must map/],
    ['a non-string constraint in conflict', [await zipFile(work, 'bad-conflict.zip', composer({ ...valid, conflict: { 'acme/base': null } }))], /"conflict" must map/],
    ['an invalid --version override', ['--version', 'banana', await zipFile(work, 'override.zip', composer(valid))], /invalid version "banana"/]
  ]
  const before = snapshot(dataDir)
  const results = await inParallel(cases, ([, args]) => cli(dataDir, ['publish', ...args]))
  cases.forEach(([what, , message], i) => { assertRefused(t, results[i]!, message, what) })
  t.same(snapshot(dataDir), before, 'no row, metadata or file changed')
  t.same(tmpFiles(dataDir), [], 'nothing left in archives/tmp')
  t.same(await packageList(dataDir), [
    { name: 'acme/base', access: 'public', versions: ['1.0.0'] },
    { name: 'acme/pro', access: 'restricted', versions: ['2.0.0'] }
  ])
})

t.test('a published version is immutable', async (t) => {
  const { dataDir, work, base } = await seeded(t)
  const before = snapshot(dataDir)

  const different = await writePackageZip(work, { name: 'acme/base', version: '1.0.0', description: 'Changed' })
  assertRefused(t, await cli(dataDir, ['publish', different]), /acme\/base 1\.0\.0 .*immutable/, 'same version, different bytes')
  t.same(snapshot(dataDir), before, 'nothing changed')

  const sameNormalized = await writePackageZip(work, { name: 'acme/base', version: 'v1.0.0.0', description: 'Changed' })
  assertRefused(t, await cli(dataDir, ['publish', sameNormalized]), /immutable/, 'a spelling that normalises to the same version')

  const viaOverride = await writePackageZip(work, { name: 'acme/base', version: '9.9.9' })
  assertRefused(t, await cli(dataDir, ['publish', '--version', '1.0.0', viaOverride]), /immutable/, 'the same version through --version')

  const withAccess = await cli(dataDir, ['publish', '--access', 'restricted', different])
  assertRefused(t, withAccess, /immutable/, 'a refused publish does not apply --access either')
  t.same(snapshot(dataDir), before, 'still nothing changed')
  t.same(tmpFiles(dataDir), [])

  const again = await cli(dataDir, ['publish', base])
  t.equal(again.code, 0, again.stderr)
  t.equal(again.stderr, '')
  const sha1 = createHash('sha1').update(readFileSync(base)).digest('hex')
  t.equal(again.stdout, `unchanged acme/base 1.0.0 (sha1 ${sha1})\n`, 'the same bytes again are a no-op')
  t.same(snapshot(dataDir), before, 'not even Last-Modified moved')

  const json = await cliOk(dataDir, ['publish', base])
  t.same(json, [{ name: 'acme/base', version: '1.0.0', versionNormalized: '1.0.0.0', shasum: sha1 }])
  t.same(snapshot(dataDir), before)
})

t.test('several archives: each on its own, failures reported, exit 1', async (t) => {
  const { dataDir, work } = await seeded(t)
  const good1 = await writePackageZip(work, { name: 'acme/base', version: '1.1.0' })
  const bad = await zipFile(work, 'broken.zip', { 'composer.json': '{' })
  const good2 = await writePackageZip(work, { name: 'acme/fresh', version: '0.1.0' })
  const r = await cli(dataDir, ['--json', 'publish', good1, bad, good2])
  t.equal(r.code, 1)
  t.match(r.stderr, /^packyard: broken\.zip: composer\.json is not valid JSON[^\n]*\n$/)
  t.same(r.json.map((p: Json) => `${p.name}@${p.version}`), ['acme/base@1.1.0', 'acme/fresh@0.1.0'], 'the others went in')
  t.same(await packageList(dataDir), [
    { name: 'acme/base', access: 'public', versions: ['1.1.0', '1.0.0'] },
    { name: 'acme/fresh', access: 'restricted', versions: ['0.1.0'] },
    { name: 'acme/pro', access: 'restricted', versions: ['2.0.0'] }
  ])
  t.same(tmpFiles(dataDir), [])

  const versionForMany = await cli(dataDir, ['publish', '--version', '5.0.0', good1, good2])
  assertRefused(t, versionForMany, /--version applies to one archive/, '--version with several archives')
})

t.test('what gets published is what Composer is served', async (t) => {
  const { app, dataDir } = await buildTestApp(t)
  const work = tempDir(t)
  await cliOk(dataDir, ['account', 'create', 'alice'])
  const key = await cliOk(dataDir, ['key', 'create', 'alice', '--name', 'laptop'])
  const headers = basic(key.publicKey, key.privateKey)
  const p2 = async (name: string): Promise<Json[]> => {
    const res = await app.inject({ url: `/p2/${name}.json`, headers })
    t.equal(res.statusCode, 200, `p2 of ${name}`)
    return JSON.parse(res.body).packages[name]
  }

  t.test('composer.json inside a single top-level folder (GitHub archives)', async (t) => {
    const manifest = { name: 'acme/github', version: '1.2.3', type: 'library', autoload: { 'psr-4': { 'Acme\\GitHub\\': 'src/' } }, extra: { 'branch-alias': { 'dev-main': '1.x-dev' } } }
    const file = await writePackageZip(work, manifest, { prefix: 'acme-github-1a2b3c4', files: { 'src/Client.php': '<?php' } })
    const [published] = await cliOk(dataDir, ['publish', '--access', 'public', file])
    t.same(published, { name: 'acme/github', version: '1.2.3', versionNormalized: '1.2.3.0', shasum: createHash('sha1').update(readFileSync(file)).digest('hex') })
    const [v] = await p2('acme/github')
    t.same(v!.autoload, manifest.autoload)
    t.same(v!.extra, manifest.extra)
    const zip = await app.inject({ url: new URL(v!.dist.url).pathname, headers })
    t.equal(zip.statusCode, 200)
    t.ok(zip.rawPayload.equals(readFileSync(file)), 'the archive is served byte for byte, never repacked')
  })

  t.test('--version overrides or supplies the version', async (t) => {
    const noVersion = await writePackageZip(work, { name: 'acme/override', description: 'no version inside' })
    const [first] = await cliOk(dataDir, ['publish', '--access', 'public', '--version', '3.1.4', noVersion])
    t.same([first.version, first.versionNormalized], ['3.1.4', '3.1.4.0'])
    const wrongVersion = await writePackageZip(work, { name: 'acme/override', version: '1.0.0' })
    const [second] = await cliOk(dataDir, ['publish', '--version', '2.4.6-p3', wrongVersion])
    t.same([second.version, second.versionNormalized], ['2.4.6-p3', '2.4.6.0-patch3'])
    const [branch] = await cliOk(dataDir, ['publish', '--version', 'dev-feature/x', wrongVersion])
    t.same([branch.version, branch.versionNormalized], ['dev-feature/x', 'dev-feature/x'])
    t.same((await p2('acme/override')).map((v) => v.version), ['3.1.4', '2.4.6-p3'], 'stable versions in <name>.json, not 1.0.0')
    const dev = await app.inject({ url: '/p2/acme/override~dev.json', headers })
    t.same(JSON.parse(dev.body).packages['acme/override'].map((v: Json) => v.version), ['dev-feature/x'])
  })

  t.test('--access decides access for new and existing packages', async (t) => {
    const v1 = await writePackageZip(work, { name: 'acme/gated', version: '1.0.0' })
    await cliOk(dataDir, ['publish', v1])
    const listed = async (): Promise<string | undefined> =>
      (await packageList(dataDir)).find((p) => p.name === 'acme/gated')?.access
    t.equal(await listed(), 'restricted', 'restricted by default')
    t.equal((await app.inject({ url: '/p2/acme/gated.json', headers })).statusCode, 404, 'so alice does not see it')

    const v2 = await writePackageZip(work, { name: 'acme/gated', version: '1.1.0' })
    await cliOk(dataDir, ['publish', '--access', 'public', v2])
    t.equal(await listed(), 'public', '--access on an existing package changes it')
    t.same((await p2('acme/gated')).map((v) => v.version), ['1.1.0', '1.0.0'])

    await cliOk(dataDir, ['publish', '--access', 'restricted', v1])
    t.equal(await listed(), 'restricted', 'even when the archive itself is already published')
    t.equal((await app.inject({ url: '/p2/acme/gated.json', headers })).statusCode, 404)

    const v3 = await writePackageZip(work, { name: 'acme/gated', version: '1.2.0' })
    await cliOk(dataDir, ['publish', v3])
    t.equal(await listed(), 'restricted', 'no --access leaves an existing package alone')
  })
  t.same(tmpFiles(dataDir), [])
})

t.test('archives are stored content-addressed', async (t) => {
  const dataDir = tempDir(t)
  const work = tempDir(t)
  const file = await writePackageZip(work, { name: 'acme/stored', version: '1.0.0' })
  await cliOk(dataDir, ['publish', file])
  const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex')
  const stored = path.join(dataDir, 'archives', sha256.slice(0, 2), `${sha256}.zip`)
  t.equal(statSync(stored).size, statSync(file).size)
  t.ok(readFileSync(stored).equals(readFileSync(file)))
  t.same(tmpFiles(dataDir), [])
})
