import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { cliJson, composerProject, runCli, startServer, tempDir, writePackageZip, type ComposerProject, type ServerProcess } from '../helpers/harness.js'
import { requireTools } from '../helpers/tools.js'

/*
 * The real Composer client against a real `packyard serve`. One server and one data
 * directory serve every test; each test uses its own accounts and package names, so the
 * tests stay independent. Every Composer run after a key or grant change uses a fresh
 * project (own COMPOSER_HOME and cache): a warm cache survives revocation
 * (docs/composer-protocol.md §4.5) and would hide a failure.
 */

interface Key { name: string, publicKey: string, privateKey: string }
interface LockedPackage { name: string, version: string, dist?: { url: string, shasum: string } }

// Composer wraps its messages at the terminal width ("(HTT\n  P 401)"); a wide virtual
// terminal keeps each message on one line. Only this test process and its children see it.
process.env.COLUMNS = '1000'

const dataDir = tempDir(t)
const zipDir = tempDir(t)
/** Every private key this file ever created: none may reach a server log. */
const privateKeys: string[] = []
let serverStarted: Promise<ServerProcess> | undefined
const sharedServer = (): Promise<ServerProcess> => (serverStarted ??= startServer(t, dataDir))

async function createAccount (username: string): Promise<void> {
  await cliJson(dataDir, ['account', 'create', username])
}

async function createKey (username: string, name: string): Promise<Key> {
  const key = await cliJson(dataDir, ['key', 'create', username, '--name', name]) as Key
  privateKeys.push(key.privateKey)
  return key
}

async function keyCommand (verb: 'disable' | 'enable' | 'delete', publicKey: string): Promise<void> {
  await cliJson(dataDir, ['key', verb, publicKey])
}

/** `Acme\Foo\` for acme/foo: the namespace of the Info class every test package carries. */
function namespaceOf (name: string): string {
  return name.split('/').map((part) => part.split(/[-_.]/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('')).join('\\') + '\\'
}

/** A real archive: composer.json, a VERSION file and an autoloaded Info class that knows its version. */
function packageZip (name: string, version: string, require: Record<string, string> = {}): Promise<string> {
  const ns = namespaceOf(name)
  return writePackageZip(zipDir, {
    name,
    version,
    description: `${name} for the Composer end-to-end tests`,
    ...(Object.keys(require).length === 0 ? {} : { require }),
    autoload: { 'psr-4': { [ns]: 'src/' } }
  }, {
    files: {
      VERSION: version,
      'src/Info.php': `<?php\nnamespace ${ns.slice(0, -1)};\n\nfinal class Info\n{\n    public const VERSION = '${version}';\n}\n`
    }
  })
}

interface Published { name: string, version: string, versionNormalized: string, shasum: string }

async function publish (archives: string[], access?: 'public' | 'restricted'): Promise<Published[]> {
  return await cliJson(dataDir, ['publish', ...(access === undefined ? [] : ['--access', access]), ...archives]) as Published[]
}

/** A fresh Composer project (own COMPOSER_HOME and cache) holding `key` in its auth.json. */
function project (t: Test, server: ServerProcess, key: Key, opts: { require?: Record<string, string>, minimumStability?: string } = {}): ComposerProject {
  const p = composerProject(t, server.url, opts)
  p.setAuth(key.publicKey, key.privateKey)
  return p
}

/** A fresh project with another project's composer.json, composer.lock and auth.json: a clean cache and no vendor/. */
function cloneProject (t: Test, server: ServerProcess, from: ComposerProject): ComposerProject {
  const p = composerProject(t, server.url)
  for (const file of ['composer.json', 'composer.lock', 'auth.json']) copyFileSync(path.join(from.dir, file), path.join(p.dir, file))
  t.notOk(existsSync(path.join(p.dir, 'vendor')), 'the clone has no vendor directory')
  t.notOk(existsSync(path.join(p.home, 'cache')), 'the clone starts with an empty Composer cache')
  return p
}

function lockFile (p: ComposerProject): { packages: LockedPackage[] } {
  return JSON.parse(readFileSync(path.join(p.dir, 'composer.lock'), 'utf8')) as { packages: LockedPackage[] }
}

/** name → version, from composer.lock. */
function locked (p: ComposerProject): Record<string, string> {
  return Object.fromEntries(lockFile(p).packages.map((l) => [l.name, l.version]))
}

function lockedPackage (t: Test, p: ComposerProject, name: string): LockedPackage {
  const entry = lockFile(p).packages.find((l) => l.name === name)
  t.ok(entry, `${name} is in composer.lock`)
  return entry ?? { name, version: '' }
}

/** The VERSION file of an installed package, or undefined when it is not installed. */
function installedVersion (p: ComposerProject, name: string): string | undefined {
  const file = path.join(p.dir, 'vendor', name, 'VERSION')
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined
}

function rootRequire (p: ComposerProject): Record<string, string> {
  return (JSON.parse(readFileSync(path.join(p.dir, 'composer.json'), 'utf8')) as { require: Record<string, string> }).require
}

function expectInstalled (t: Test, p: ComposerProject, res: { code: number, output: string }, expected: Record<string, string>): void {
  t.equal(res.code, 0, `composer succeeds\n${res.output}`)
  t.same(locked(p), expected, 'composer.lock holds the expected versions')
  for (const [name, version] of Object.entries(expected)) {
    t.equal(installedVersion(p, name), version, `vendor/${name} holds the ${version} archive`)
  }
}

/** A Composer run denied for lack of valid credentials: non-interactive 401 (§4.2). */
function expectUnauthorized (t: Test, p: ComposerProject, res: { code: number, output: string }, name: string): void {
  t.not(res.code, 0, `composer fails\n${res.output}`)
  t.match(res.output, /required authentication \(HTTP 401\)/, 'Composer reports the 401')
  t.notOk(existsSync(path.join(p.dir, 'composer.lock')), 'no lock file written')
  t.equal(installedVersion(p, name), undefined, `${name} not installed`)
}

/** Every private key created so far is absent from the server's log. */
async function expectNoPrivateKeyLogged (t: Test, server: ServerProcess): Promise<void> {
  const log = await server.settledLog()
  const leaked = privateKeys.filter((k) => log.includes(k)).length
  t.equal(leaked, 0, `none of the ${privateKeys.length} private keys appears in the server log`)
}

/** The Composer requests made after `mark` (the server logs each request URL). */
async function requestedSince (server: ServerProcess, mark: number): Promise<string[]> {
  return (await server.settledLog()).slice(mark).split('\n').flatMap((line) => {
    try {
      // The access log: one `request` line per answered request.
      const entry = JSON.parse(line) as { msg?: string, url?: string }
      return entry.msg !== 'request' || entry.url === undefined ? [] : [entry.url]
    } catch {
      return []
    }
  })
}

/** Finds the stored archive with this SHA-1 anywhere under <dataDir>/archives. */
function storedArchive (sha1: string): string | undefined {
  const root = path.join(dataDir, 'archives')
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.zip')) continue
    const file = path.join(entry.parentPath, entry.name)
    if (createHash('sha1').update(readFileSync(file)).digest('hex') === sha1) return file
  }
  return undefined
}

t.test('composer require installs the highest matching versions of a package and its dependency', async (t) => {
  if (!requireTools(t, 'composer', 'php', 'unzip')) return
  const server = await sharedServer()
  await createAccount('deps')
  const key = await createKey('deps', 'laptop')
  const archives = await Promise.all([
    packageZip('acme/foo', '1.0.0'),
    packageZip('acme/foo', '1.0.3'),
    packageZip('acme/foo', '1.9.0'),
    packageZip('acme/foo', '1.10.0'),
    packageZip('acme/foo', '2.0.0'),
    packageZip('acme/bar', '1.0.0', { 'acme/foo': '~1.0.0' }),
    packageZip('acme/bar', '1.0.2', { 'acme/foo': '~1.0.0' }),
    packageZip('acme/bar', '1.1.0', { 'acme/foo': '^1.0' }),
    packageZip('acme/bar', '2.0.0-beta1', { 'acme/foo': '^2.0' })
  ])
  t.equal((await publish(archives, 'public')).length, 9)

  const latest = project(t, server, key)
  const pinned = project(t, server, key)
  const [latestRes, pinnedRes] = await Promise.all([
    latest.run(['require', 'acme/bar']),
    pinned.run(['require', 'acme/bar:~1.0.0'])
  ])

  // No constraint: the newest stable bar (not the beta), and foo 1.10.0 (numeric, not string, order).
  expectInstalled(t, latest, latestRes, { 'acme/bar': '1.1.0', 'acme/foo': '1.10.0' })
  t.same(rootRequire(latest), { 'acme/bar': '^1.1' }, 'composer require wrote the constraint for the newest stable version')
  t.match(latestRes.output, /Installing acme\/foo \(1\.10\.0\)/)
  t.match(latestRes.output, /Installing acme\/bar \(1\.1\.0\)/)
  const autoload = spawnSync('php', ['-r', 'require "vendor/autoload.php"; echo \\Acme\\Foo\\Info::VERSION, " ", \\Acme\\Bar\\Info::VERSION;'], { cwd: latest.dir, encoding: 'utf8' })
  t.equal(autoload.stdout, '1.10.0 1.1.0', `the autoloader finds the installed classes\n${autoload.stderr}`)

  // ~1.0.0: the newest 1.0.x bar, whose own ~1.0.0 dependency picks foo 1.0.3.
  expectInstalled(t, pinned, pinnedRes, { 'acme/bar': '1.0.2', 'acme/foo': '1.0.3' })
  t.same(rootRequire(pinned), { 'acme/bar': '~1.0.0' })
  await expectNoPrivateKeyLogged(t, server)
})

t.test('a Magento-style patch release 2.4.6-p3 satisfies ~2.4.6 and wins over 2.4.6', async (t) => {
  if (!requireTools(t, 'composer', 'php', 'unzip')) return
  const server = await sharedServer()
  await createAccount('magento')
  const key = await createKey('magento', 'shop')
  const archives = await Promise.all(['2.4.5', '2.4.6', '2.4.6-p3', '2.4.7-beta1'].map((v) => packageZip('mage/framework', v)))
  const published = await publish(archives, 'public')
  t.same(published.map((p) => p.versionNormalized), ['2.4.5.0', '2.4.6.0', '2.4.6.0-patch3', '2.4.7.0-beta1'])

  const tilde = project(t, server, key, { require: { 'mage/framework': '~2.4.6' } })
  const exact = project(t, server, key, { require: { 'mage/framework': '2.4.6' } })
  const beta = project(t, server, key, { require: { 'mage/framework': '~2.4.6' }, minimumStability: 'beta' })
  const [tildeRes, exactRes, betaRes] = await Promise.all([tilde.run(['update']), exact.run(['update']), beta.run(['update'])])

  expectInstalled(t, tilde, tildeRes, { 'mage/framework': '2.4.6-p3' })
  const entry = lockedPackage(t, tilde, 'mage/framework')
  t.match(entry.dist?.url, /\/mage-framework-2\.4\.6\.0-patch3\.zip$/, 'the archive is named by the normalized version')
  t.equal(entry.dist?.shasum, published[2]?.shasum, 'the locked shasum is the one publish printed')
  // An exact constraint still matches exactly: version_normalized must be 2.4.6.0, not 2.4.6.
  expectInstalled(t, exact, exactRes, { 'mage/framework': '2.4.6' })
  // The beta is only taken when the project accepts beta stability.
  expectInstalled(t, beta, betaRes, { 'mage/framework': '2.4.7-beta1' })
  await expectNoPrivateKeyLogged(t, server)
})

t.test('composer install from the lock file works on a clean cache', async (t) => {
  if (!requireTools(t, 'composer', 'php', 'unzip')) return
  const server = await sharedServer()
  await createAccount('locker')
  const key = await createKey('locker', 'ci')
  await publish(await Promise.all([
    packageZip('lock/app', '1.0.0', { 'lock/lib': '^1.0' }),
    packageZip('lock/lib', '1.0.0')
  ]), 'public')

  const first = project(t, server, key, { require: { 'lock/app': '^1.0' } })
  expectInstalled(t, first, await first.run(['update']), { 'lock/app': '1.0.0', 'lock/lib': '1.0.0' })
  const lock = readFileSync(path.join(first.dir, 'composer.lock'), 'utf8')

  // A newer lib must not be picked up: install follows the lock, it does not resolve again.
  await publish([await packageZip('lock/lib', '1.1.0')], 'public')
  const clone = cloneProject(t, server, first)
  const res = await clone.run(['install'])
  expectInstalled(t, clone, res, { 'lock/app': '1.0.0', 'lock/lib': '1.0.0' })
  t.match(res.output, /Installing lock\/lib \(1\.0\.0\)/)
  t.notMatch(res.output, /lock file is not up to date/i)
  t.equal(readFileSync(path.join(clone.dir, 'composer.lock'), 'utf8'), lock, 'install left composer.lock untouched')
  t.ok(existsSync(path.join(clone.dir, 'vendor', 'autoload.php')), 'the autoloader was generated')
  await expectNoPrivateKeyLogged(t, server)
})

t.test('Composer verifies the shasum of a downloaded archive', async (t) => {
  if (!requireTools(t, 'composer', 'php', 'unzip')) return
  const server = await sharedServer()
  await createAccount('checksum')
  const key = await createKey('checksum', 'ci')
  const [published] = await publish([await packageZip('sum/pkg', '1.0.0')], 'public')
  t.ok(published)

  const first = project(t, server, key, { require: { 'sum/pkg': '^1.0' } })
  expectInstalled(t, first, await first.run(['update']), { 'sum/pkg': '1.0.0' })
  t.equal(lockedPackage(t, first, 'sum/pkg').dist?.shasum, published?.shasum)

  const stored = storedArchive(published?.shasum ?? '')
  t.ok(stored, 'the archive is stored under <dataDir>/archives')
  if (stored === undefined) return
  const bytes = readFileSync(stored)
  const corrupt = Buffer.from(bytes)
  for (const at of [Math.floor(bytes.length / 3), Math.floor(bytes.length / 2), bytes.length - 30]) corrupt[at] = corrupt[at]! ^ 0xff
  writeFileSync(stored, corrupt)
  t.equal(readFileSync(stored).length, bytes.length, 'the corrupt archive keeps its length')

  const clone = cloneProject(t, server, first)
  const res = await clone.run(['install'])
  t.not(res.code, 0, `composer install fails on the corrupt archive\n${res.output}`)
  t.match(res.output, /checksum verification of the file failed/)
  t.equal(installedVersion(clone, 'sum/pkg'), undefined, 'nothing was installed')
  await expectNoPrivateKeyLogged(t, server)
})

t.test('disabled, regenerated-away and deleted keys make Composer fail', async (t) => {
  if (!requireTools(t, 'composer', 'php', 'unzip')) return
  const server = await sharedServer()
  await createAccount('rotator')
  const key = await createKey('rotator', 'laptop')
  await publish([await packageZip('keys/pkg', '1.0.0')], 'public')
  const require = { 'keys/pkg': '^1.0' }
  const attempt = async (k: Key): Promise<{ p: ComposerProject, res: { code: number, output: string } }> => {
    const p = project(t, server, k, { require })
    return { p, res: await p.run(['update']) }
  }

  const before = await attempt(key)
  expectInstalled(t, before.p, before.res, { 'keys/pkg': '1.0.0' })

  await keyCommand('disable', key.publicKey)
  const disabled = await attempt(key)
  expectUnauthorized(t, disabled.p, disabled.res, 'keys/pkg')
  t.match(disabled.res.output, /This access key is disabled/, 'Composer prints the server\'s warning')

  await keyCommand('enable', key.publicKey)
  const enabled = await attempt(key)
  expectInstalled(t, enabled.p, enabled.res, { 'keys/pkg': '1.0.0' })

  const fresh = await cliJson(dataDir, ['key', 'regenerate', key.publicKey]) as Key
  privateKeys.push(fresh.privateKey)
  t.not(fresh.publicKey, key.publicKey)
  t.not(fresh.privateKey, key.privateKey)
  const [oldPair, newPair] = await Promise.all([attempt(key), attempt(fresh)])
  expectUnauthorized(t, oldPair.p, oldPair.res, 'keys/pkg')
  expectInstalled(t, newPair.p, newPair.res, { 'keys/pkg': '1.0.0' })

  await keyCommand('delete', fresh.publicKey)
  const deleted = await attempt(fresh)
  expectUnauthorized(t, deleted.p, deleted.res, 'keys/pkg')
  await expectNoPrivateKeyLogged(t, server)
})

t.test('a restricted package needs a grant, and a revoked grant closes it again', async (t) => {
  if (!requireTools(t, 'composer', 'php', 'unzip')) return
  const server = await sharedServer()
  await createAccount('grantee')
  const key = await createKey('grantee', 'laptop')
  const [published] = await publish([await packageZip('secret/pkg', '1.0.0')])
  t.ok(published)
  const list = await cliJson(dataDir, ['package', 'list']) as Array<{ name: string, access: string }>
  t.equal(list.find((p) => p.name === 'secret/pkg')?.access, 'restricted', 'a new package is restricted by default')
  const require = { 'secret/pkg': '^1.0' }
  const notFound = /requires secret\/pkg[^\n]*could not be found/

  const denied = project(t, server, key, { require })
  const deniedRes = await denied.run(['update'])
  t.not(deniedRes.code, 0, `no grant: composer fails\n${deniedRes.output}`)
  t.match(deniedRes.output, notFound)
  t.equal(installedVersion(denied, 'secret/pkg'), undefined)

  await cliJson(dataDir, ['grant', 'grantee', 'secret/pkg'])
  const granted = project(t, server, key, { require })
  expectInstalled(t, granted, await granted.run(['update']), { 'secret/pkg': '1.0.0' })

  await cliJson(dataDir, ['revoke', 'grantee', 'secret/pkg'])
  const revoked = project(t, server, key, { require })
  const fromLock = cloneProject(t, server, granted)
  const [revokedRes, fromLockRes] = await Promise.all([revoked.run(['update']), fromLock.run(['install'])])
  t.not(revokedRes.code, 0, `after revoke: composer update fails\n${revokedRes.output}`)
  t.match(revokedRes.output, notFound)
  t.equal(installedVersion(revoked, 'secret/pkg'), undefined)
  // The old lock file names the archive URL directly; the archive itself must be closed too.
  t.not(fromLockRes.code, 0, `after revoke: composer install from the old lock fails\n${fromLockRes.output}`)
  t.match(fromLockRes.output, /HTTP 403/)
  t.equal(installedVersion(fromLock, 'secret/pkg'), undefined)
  await expectNoPrivateKeyLogged(t, server)
})

t.test('two named keys of one account work independently', async (t) => {
  if (!requireTools(t, 'composer', 'php', 'unzip')) return
  const server = await sharedServer()
  await createAccount('twokeys')
  const [laptop, ci] = await Promise.all([createKey('twokeys', 'laptop'), createKey('twokeys', 'ci')])
  await publish([await packageZip('two/pkg', '1.0.0')], 'public')
  const require = { 'two/pkg': '^1.0' }

  const [a, b] = [project(t, server, laptop, { require }), project(t, server, ci, { require })]
  const [aRes, bRes] = await Promise.all([a.run(['update']), b.run(['update'])])
  expectInstalled(t, a, aRes, { 'two/pkg': '1.0.0' })
  expectInstalled(t, b, bRes, { 'two/pkg': '1.0.0' })

  await keyCommand('disable', ci.publicKey)
  const keys = await cliJson(dataDir, ['key', 'list', 'twokeys']) as Array<{ name: string, enabled: boolean }>
  t.same(Object.fromEntries(keys.map((k) => [k.name, k.enabled])), { laptop: true, ci: false })
  const [c, d] = [project(t, server, laptop, { require }), project(t, server, ci, { require })]
  const [cRes, dRes] = await Promise.all([c.run(['update']), d.run(['update'])])
  expectInstalled(t, c, cRes, { 'two/pkg': '1.0.0' })
  expectUnauthorized(t, d, dRes, 'two/pkg')
  await expectNoPrivateKeyLogged(t, server)
})

t.test('dev versions install on request; stable projects never fetch ~dev metadata', async (t) => {
  if (!requireTools(t, 'composer', 'php', 'unzip')) return
  const server = await sharedServer()
  await createAccount('developer')
  const key = await createKey('developer', 'laptop')
  await publish(await Promise.all([
    packageZip('acme/dev', 'dev-main'),
    packageZip('acme/dev', '1.0.x-dev'),
    packageZip('acme/mixed', '1.0.0'),
    packageZip('acme/mixed', '1.1.0'),
    packageZip('acme/mixed', 'dev-main')
  ]), 'public')

  const main = project(t, server, key, { minimumStability: 'dev' })
  const branch = project(t, server, key, { minimumStability: 'dev' })
  const [mainRes, branchRes] = await Promise.all([main.run(['require', 'acme/dev:dev-main']), branch.run(['require', 'acme/dev:1.0.x-dev'])])
  expectInstalled(t, main, mainRes, { 'acme/dev': 'dev-main' })
  expectInstalled(t, branch, branchRes, { 'acme/dev': '1.0.x-dev' })
  t.match(lockedPackage(t, branch, 'acme/dev').dist?.url, /\/acme-dev-1\.0\.9999999\.9999999-dev\.zip$/)

  const mark = (await server.settledLog()).length
  const stable = project(t, server, key, { require: { 'acme/mixed': '^1.0' } })
  const stableRes = await stable.run(['update'])
  expectInstalled(t, stable, stableRes, { 'acme/mixed': '1.1.0' })
  const unexpected = stableRes.output.split('\n').filter((l) => /warning|error/i.test(l) && !/over http which is an insecure protocol/.test(l))
  t.same(unexpected, [], 'no warnings or errors besides plain http')
  const requested = await requestedSince(server, mark)
  t.ok(requested.includes('/p2/acme/mixed.json'), 'the stable metadata was fetched')
  t.notOk(requested.includes('/p2/acme/mixed~dev.json'), 'the ~dev metadata was not fetched')
  await expectNoPrivateKeyLogged(t, server)
})

t.test('notify-batch: installs are counted and the CLI still works', async (t) => {
  if (!requireTools(t, 'composer', 'php', 'unzip')) return
  const server = await sharedServer()
  await createAccount('counter')
  const key = await createKey('counter', 'ci')
  await publish([await packageZip('notify/pkg', '1.0.0')], 'public')
  const downloads = async (): Promise<number | undefined> => {
    const res = await fetch(`${server.url}/search.json?q=notify/pkg`, {
      headers: { authorization: `Basic ${Buffer.from(`${key.publicKey}:${key.privateKey}`).toString('base64')}` }
    })
    const text = await res.text()
    t.equal(res.status, 200, `search.json answers\n${text}`)
    if (res.status !== 200) t.comment(server.log().split('\n').filter((l) => l.includes('"level":50')).join('\n'))
    const body = JSON.parse(text) as { results?: Array<{ name: string, downloads: number }> }
    return body.results?.find((r) => r.name === 'notify/pkg')?.downloads
  }
  t.equal(await downloads(), 0, 'no downloads before the first install')

  const mark = (await server.settledLog()).length
  const first = project(t, server, key, { require: { 'notify/pkg': '^1.0' } })
  expectInstalled(t, first, await first.run(['update']), { 'notify/pkg': '1.0.0' })
  t.equal(await downloads(), 1, 'the install was counted')
  t.ok((await requestedSince(server, mark)).includes('/downloads/'), 'Composer posted to notify-batch')

  const clone = cloneProject(t, server, first)
  expectInstalled(t, clone, await clone.run(['install']), { 'notify/pkg': '1.0.0' })
  t.equal(await downloads(), 2, 'the install from the lock file was counted too')

  const list = await runCli(dataDir, ['--json', 'package', 'list'])
  t.equal(list.code, 0, list.stderr)
  t.same((list.json as Array<{ name: string, versions: string[] }>).find((p) => p.name === 'notify/pkg'), { name: 'notify/pkg', access: 'public', versions: ['1.0.0'] })
  await expectNoPrivateKeyLogged(t, server)
})

t.test('no private key ever reaches the server log', async (t) => {
  if (!requireTools(t, 'composer', 'php', 'unzip')) return
  const server = await sharedServer()
  await createAccount('auditor')
  const key = await createKey('auditor', 'laptop')
  const get = (user: string, pass: string): Promise<Response> =>
    fetch(`${server.url}/packages.json`, { headers: { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` } })
  // A good pair, a swapped pair (the private key sent as the username) and a wrong secret.
  t.equal((await get(key.publicKey, key.privateKey)).status, 200)
  t.equal((await get(key.privateKey, key.publicKey)).status, 401)
  t.equal((await get(key.publicKey, key.privateKey.split('').reverse().join(''))).status, 401)
  const log = await server.settledLog()
  // The check means something only if the log saw the traffic: requests, and rejected keys.
  t.match(log, /"url":"\/packages\.json"/)
  t.match(log, /access key rejected/)
  t.ok(privateKeys.length >= 10, `${privateKeys.length} private keys were created`)
  await expectNoPrivateKeyLogged(t, server)
})
