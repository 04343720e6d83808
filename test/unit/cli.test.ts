import t, { type Test } from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { basic, runCliQuick, cliJsonQuick, spawnCli, ROOT, buildTestApp, tempDir, writePackageZip, type CliResult } from '../helpers/harness.js'
import { loadConfig } from '../../src/config.js'
import { createContext } from '../../src/context.js'
import { inParallel } from '../helpers/util.js'

const cli = runCliQuick
const cliOk = cliJsonQuick

const HEX32 = /^[0-9a-f]{32}$/
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/

function keysOf (o: object): string[] {
  return Object.keys(o).sort()
}

/** A user error: the exit code, exactly one line on stderr, no stack trace, nothing on stdout. */
function assertUserError (t: Test, r: CliResult, code: number, message: RegExp, what: string): void {
  t.equal(r.code, code, `${what}: exit code ${code} (stderr: ${r.stderr.trim()})`)
  t.equal(r.stdout, '', `${what}: nothing on stdout`)
  t.match(r.stderr, /^packyard: [^\n]+\n$/, `${what}: exactly one line on stderr`)
  t.match(r.stderr, message, `${what}: says what is wrong`)
  t.notMatch(r.stderr, /\bat .+:\d+:\d+|Error:|file:\/\//, `${what}: no stack trace`)
}

/** Runs bin/packyard.js with no --data-dir, in `cwd`, with exactly the given PACKYARD_* environment. */
function runBare (cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return spawnCli(args, { cwd, env, cleanEnv: true })
}

t.test('account create and list', async (t) => {
  const dataDir = tempDir(t)
  const alice = await cliOk(dataDir, ['account', 'create', 'alice', '--email', 'alice@example.com'])
  t.same(keysOf(alice), ['mageId', 'username'])
  t.equal(alice.username, 'alice')
  t.match(alice.mageId, /^MAG\d{9}$/)
  const bob = await cliOk(dataDir, ['account', 'create', 'bob', '--password-stdin'], { stdin: 'a long enough password\n' })
  t.equal(bob.username, 'bob')
  t.not(bob.mageId, alice.mageId)

  const list = await cliOk(dataDir, ['account', 'list'])
  t.equal(list.length, 2)
  for (const a of list) t.same(keysOf(a), ['createdAt', 'email', 'mageId', 'username'])
  t.same(list.map((a: { username: string }) => a.username), ['alice', 'bob'])
  t.equal(list[0].email, 'alice@example.com')
  t.equal(list[1].email, null)
  t.equal(list[0].mageId, alice.mageId)
  t.match(list[0].createdAt, ISO)
  t.notMatch(JSON.stringify(list), /password|hash/i, 'no password material')

  const human = await cli(dataDir, ['account', 'create', 'carol'])
  t.equal(human.code, 0)
  t.match(human.stdout, /^created account carol \(MAGEID MAG\d{9}\)\n$/)
  t.equal(human.stderr, '')
})

t.test('key create, list, rename, regenerate, disable, enable, delete', async (t) => {
  const dataDir = tempDir(t)
  await cliOk(dataDir, ['account', 'create', 'alice'])
  const created = await cliOk(dataDir, ['key', 'create', 'alice', '--name', 'alice laptop'])
  t.same(keysOf(created), ['enabled', 'name', 'privateKey', 'publicKey'])
  t.equal(created.name, 'alice laptop')
  t.match(created.publicKey, HEX32)
  t.match(created.privateKey, HEX32)
  t.not(created.publicKey, created.privateKey)
  t.equal(created.enabled, true)
  const ci = await cliOk(dataDir, ['key', 'create', 'alice', '--name', 'ci'])

  const listed = await cli(dataDir, ['--json', 'key', 'list', 'alice'])
  t.equal(listed.code, 0)
  t.equal(listed.json.length, 2)
  for (const k of listed.json) t.same(keysOf(k), ['createdAt', 'enabled', 'lastUsedAt', 'name', 'publicKey'])
  t.same(listed.json.map((k: { name: string }) => k.name), ['alice laptop', 'ci'])
  t.equal(listed.json[0].publicKey, created.publicKey)
  t.equal(listed.json[0].lastUsedAt, null)
  t.match(listed.json[0].createdAt, ISO)
  t.notMatch(listed.stdout, created.privateKey, 'key list never shows a private key')
  t.notMatch(listed.stdout, ci.privateKey)
  const human = await cli(dataDir, ['key', 'list', 'alice'])
  t.equal(human.code, 0)
  t.match(human.stdout, created.publicKey)
  t.notMatch(human.stdout, created.privateKey, 'nor does the human listing')

  const renamed = await cliOk(dataDir, ['key', 'rename', created.publicKey, 'old laptop'])
  t.same(renamed, { name: 'old laptop', publicKey: created.publicKey })

  const regenerated = await cliOk(dataDir, ['key', 'regenerate', created.publicKey])
  t.same(keysOf(regenerated), ['name', 'privateKey', 'publicKey'])
  t.equal(regenerated.name, 'old laptop')
  t.match(regenerated.publicKey, HEX32)
  t.match(regenerated.privateKey, HEX32)
  t.not(regenerated.publicKey, created.publicKey, 'a new public key')
  t.not(regenerated.privateKey, created.privateKey, 'a new private key')
  const gone = await cli(dataDir, ['--json', 'key', 'disable', created.publicKey])
  assertUserError(t, gone, 1, /not found/, 'the old public key no longer exists')

  t.same(await cliOk(dataDir, ['key', 'disable', regenerated.publicKey]), { publicKey: regenerated.publicKey, enabled: false })
  t.same((await cliOk(dataDir, ['key', 'list', 'alice']))[0].enabled, false)
  t.same(await cliOk(dataDir, ['key', 'enable', regenerated.publicKey]), { publicKey: regenerated.publicKey, enabled: true })
  t.same((await cliOk(dataDir, ['key', 'list', 'alice']))[0].enabled, true)

  t.same(await cliOk(dataDir, ['key', 'delete', regenerated.publicKey]), { publicKey: regenerated.publicKey, deleted: true })
  const after = await cliOk(dataDir, ['key', 'list', 'alice'])
  t.same(after.map((k: { publicKey: string }) => k.publicKey), [ci.publicKey], 'only the other key is left')
})

t.test('key list shows when a key was last used by the server', async (t) => {
  const { app, dataDir } = await buildTestApp(t)
  await cliOk(dataDir, ['account', 'create', 'alice'])
  const key = await cliOk(dataDir, ['key', 'create', 'alice', '--name', 'laptop'])
  const res = await app.inject({ url: '/packages.json', headers: basic(key.publicKey, key.privateKey) })
  t.equal(res.statusCode, 200)
  const [listed] = await cliOk(dataDir, ['key', 'list', 'alice'])
  t.match(listed.lastUsedAt, ISO)
})

t.test('publish, package list, package access, grant and revoke', async (t) => {
  const dataDir = tempDir(t)
  const work = tempDir(t)
  await cliOk(dataDir, ['account', 'create', 'alice'])
  const v1 = await writePackageZip(work, { name: 'acme/widget', version: '1.0.0' })
  const v2 = await writePackageZip(work, { name: 'acme/widget', version: '2.4.6-p3' })
  const pro = await writePackageZip(work, { name: 'acme/pro', version: '1.0.0' })

  const published = await cliOk(dataDir, ['publish', '--access', 'public', v1, v2])
  t.equal(published.length, 2)
  for (const p of published) t.same(keysOf(p), ['name', 'shasum', 'version', 'versionNormalized'])
  t.same(published.map((p: { version: string, versionNormalized: string }) => [p.version, p.versionNormalized]), [['1.0.0', '1.0.0.0'], ['2.4.6-p3', '2.4.6.0-patch3']])
  t.match(published[0].shasum, /^[0-9a-f]{40}$/)
  t.equal(published[0].name, 'acme/widget')
  await cliOk(dataDir, ['publish', pro])

  const list = await cliOk(dataDir, ['package', 'list'])
  t.same(list, [
    { name: 'acme/pro', access: 'restricted', versions: ['1.0.0'] },
    { name: 'acme/widget', access: 'public', versions: ['2.4.6-p3', '1.0.0'] }
  ], 'new packages are restricted unless --access public; versions newest first')

  t.same(await cliOk(dataDir, ['package', 'access', 'acme/pro', 'public']), { name: 'acme/pro', access: 'public' })
  t.same(await cliOk(dataDir, ['package', 'access', 'acme/pro', 'restricted']), { name: 'acme/pro', access: 'restricted' })
  t.same(await cliOk(dataDir, ['grant', 'alice', 'acme/pro']), { username: 'alice', package: 'acme/pro', granted: true })
  t.same(await cliOk(dataDir, ['grant', 'alice', 'acme/pro']), { username: 'alice', package: 'acme/pro', granted: true }, 'granting twice is harmless')
  t.same(await cliOk(dataDir, ['revoke', 'alice', 'acme/pro']), { username: 'alice', package: 'acme/pro', granted: false })

  const human = await cli(dataDir, ['package', 'list'])
  t.equal(human.code, 0)
  t.match(human.stdout, /^acme\/pro\trestricted\t1\.0\.0\nacme\/widget\tpublic\t2\.4\.6-p3, 1\.0\.0\n$/)
})

t.test('errors: non-zero exit, one line on stderr, nothing on stdout', async (t) => {
  const dataDir = tempDir(t)
  const work = tempDir(t)
  const zip = await writePackageZip(work, { name: 'acme/widget', version: '1.0.0' })
  // Seeded through the services: the CLI under test here is the failing commands.
  const ctx = createContext(loadConfig({}, { dataDir, logLevel: 'silent' }))
  const alice = await ctx.accounts.create({ username: 'alice' })
  const issued = ctx.keys.create(alice.id, 'laptop')
  const key = { publicKey: issued.key.publicKey, privateKey: issued.privateKey }
  await ctx.catalog.publish(zip)
  ctx.close()
  const unknownKey = '0123456789abcdef0123456789abcdef'
  const cases: Array<[string, string[], number, RegExp]> = [
    ['unknown account (key create)', ['key', 'create', 'nobody', '--name', 'x'], 1, /account "nobody" not found/],
    ['unknown account (key list)', ['key', 'list', 'nobody'], 1, /account "nobody" not found/],
    ['unknown account (grant)', ['grant', 'nobody', 'acme/widget'], 1, /account "nobody" not found/],
    ['unknown key (disable)', ['key', 'disable', unknownKey], 1, /access key .* not found/],
    ['unknown key (rename)', ['key', 'rename', unknownKey, 'new name'], 1, /access key .* not found/],
    ['unknown key (regenerate)', ['key', 'regenerate', unknownKey], 1, /access key .* not found/],
    ['unknown key (delete)', ['key', 'delete', unknownKey], 1, /access key .* not found/],
    ['malformed key', ['key', 'delete', 'not-a-key'], 1, /access key "not-a-key" not found/],
    ['a private key is not a public key', ['key', 'disable', key.privateKey], 1, /not found/],
    ['unknown package (grant)', ['grant', 'alice', 'acme/nothing'], 1, /package "acme\/nothing" not found/],
    ['unknown package (access)', ['package', 'access', 'acme/nothing', 'public'], 1, /package "acme\/nothing" not found/],
    ['bad access value (package access)', ['package', 'access', 'acme/widget', 'everyone'], 1, /invalid access "everyone": use public or restricted/],
    ['bad access value (publish)', ['publish', '--access', 'everyone', 'x.zip'], 2, /everyone.*public, restricted/],
    ['duplicate account', ['account', 'create', 'alice'], 1, /already exists/],
    ['invalid username', ['account', 'create', 'a'], 1, /invalid username/],
    ['invalid email', ['account', 'create', 'bob', '--email', 'not-an-email'], 1, /invalid email/],
    ['empty key name', ['key', 'create', 'alice', '--name', '  '], 1, /invalid key name/],
    ['missing --name', ['key', 'create', 'alice'], 2, /--name/],
    ['missing argument', ['key', 'list'], 2, /missing required argument/],
    ['unknown command', ['frobnicate'], 2, /unknown command 'frobnicate'/],
    ['unknown subcommand', ['key', 'frobnicate'], 2, /unknown command 'frobnicate'/],
    ['unknown option', ['account', 'list', '--bogus'], 2, /unknown option '--bogus'/],
    ['too many arguments', ['account', 'list', 'extra'], 2, /too many arguments|unknown command/]
  ]
  // Read-only failures, so they can run side by side.
  const results = await inParallel(cases, ([, args]) => cli(dataDir, ['--json', ...args]))
  cases.forEach(([what, , code, message], i) => { assertUserError(t, results[i]!, code, message, what) })
  const short = await cli(dataDir, ['--json', 'account', 'create', 'bob', '--password-stdin'], { stdin: 'short\n' })
  assertUserError(t, short, 1, /password too short/, 'short password')

  // Nothing above changed anything.
  t.same((await cliOk(dataDir, ['account', 'list'])).map((a: { username: string }) => a.username), ['alice'])
  t.same(await cliOk(dataDir, ['package', 'list']), [{ name: 'acme/widget', access: 'restricted', versions: ['1.0.0'] }])
  const keys = await cliOk(dataDir, ['key', 'list', 'alice'])
  t.same(keys.map((k: { name: string, publicKey: string, enabled: boolean }) => [k.name, k.publicKey, k.enabled]), [['laptop', key.publicKey, true]])
})

t.test('errors for misspelt commands and options are one line too', async (t) => {
  const dataDir = tempDir(t)
  assertUserError(t, await cli(dataDir, ['--json', 'acount', 'list']), 2, /unknown command 'acount'/, 'misspelt command')
  assertUserError(t, await cli(dataDir, ['--json', 'account', 'list', '--jsn']), 2, /unknown option '--jsn'/, 'misspelt option')
})

t.test('--data-dir and PACKYARD_DATA_DIR choose the data directory', async (t) => {
  const cwd = tempDir(t)
  const fromEnv = path.join(tempDir(t), 'env-data')
  const fromFlag = path.join(tempDir(t), 'flag-data')

  const viaEnv = await runBare(cwd, ['--json', 'account', 'create', 'envuser'], { PACKYARD_DATA_DIR: fromEnv })
  t.equal(viaEnv.code, 0, viaEnv.stderr)
  t.ok(existsSync(path.join(fromEnv, 'packyard.sqlite')), 'database created under PACKYARD_DATA_DIR')

  const viaFlag = await runBare(cwd, ['--data-dir', fromFlag, '--json', 'account', 'create', 'flaguser'], { PACKYARD_DATA_DIR: fromEnv })
  t.equal(viaFlag.code, 0, viaFlag.stderr)
  t.ok(existsSync(path.join(fromFlag, 'packyard.sqlite')), 'database created under --data-dir')

  const envList = await runBare(cwd, ['--json', 'account', 'list'], { PACKYARD_DATA_DIR: fromEnv })
  t.same(envList.json.map((a: { username: string }) => a.username), ['envuser'], '--data-dir wins over the environment')
  const flagList = await runBare(cwd, ['--json', '--data-dir', fromFlag, 'account', 'list'])
  t.same(flagList.json.map((a: { username: string }) => a.username), ['flaguser'])

  const relative = await runBare(cwd, ['--json', '--data-dir', 'rel-data', 'account', 'create', 'reluser'])
  t.equal(relative.code, 0, relative.stderr)
  t.ok(existsSync(path.join(cwd, 'rel-data', 'packyard.sqlite')), 'a relative --data-dir resolves against the working directory')

  const byDefault = await runBare(cwd, ['--json', 'account', 'list'])
  t.equal(byDefault.code, 0, byDefault.stderr)
  t.same(byDefault.json, [])
  t.ok(existsSync(path.join(cwd, 'storage', 'packyard.sqlite')), 'default ./storage')
})

t.test('account password: sets a new password from stdin and signs the account out everywhere', async (t) => {
  const { browser } = await import('../helpers/web.js')
  const { app, dataDir } = await buildTestApp(t)
  const oldPassword = 'correct horse battery'
  const newPassword = 'a brand new passphrase'
  await cliOk(dataDir, ['account', 'create', 'alice', '--password-stdin'], { stdin: `${oldPassword}\n` })
  const session = browser(app)
  t.equal((await session.submit('/account/login', '/account/login', { username: 'alice', password: oldPassword })).statusCode, 303)
  t.equal((await session.get('/account/keys')).statusCode, 200, 'logged in')

  t.same(await cliOk(dataDir, ['account', 'password', 'alice'], { stdin: `${newPassword}\n` }), { username: 'alice', sessionsEnded: 1 })
  const after = await session.get('/account/keys')
  t.equal(after.statusCode, 303, 'the old session is gone')
  t.equal(after.headers.location, '/account/login?next=%2Faccount%2Fkeys')
  const old = await browser(app).submit('/account/login', '/account/login', { username: 'alice', password: oldPassword })
  t.equal(old.statusCode, 401, 'the old password no longer works')
  t.equal((await browser(app).submit('/account/login', '/account/login', { username: 'alice', password: newPassword })).statusCode, 303, 'the new one does')
  t.equal((await app.inject({ url: '/api/v1/account', headers: basic('alice', newPassword) })).statusCode, 200, 'for the API too')

  const text = await cli(dataDir, ['account', 'password', 'alice'], { stdin: `${oldPassword}\n` })
  t.equal(text.code, 0)
  t.equal(text.stdout, 'set the password of alice (1 sessions ended)\n', 'the login with the new password above is ended too')
  assertUserError(t, await cli(dataDir, ['account', 'password', 'alice'], { stdin: 'short\n' }), 1, /password/, 'a short password')
  assertUserError(t, await cli(dataDir, ['account', 'password', 'nobody'], { stdin: `${newPassword}\n` }), 1, /nobody/, 'an unknown account')
})

t.test('-V prints the version from package.json', async (t) => {
  const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }
  const r = await cli(tempDir(t), ['-V'])
  t.equal(r.code, 0)
  t.equal(r.stdout, `${version}\n`)
  t.equal(r.stderr, '')
})
