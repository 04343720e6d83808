import t, { type Test } from 'tap'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { execFileSync, spawn } from 'node:child_process'
import { basic, cliInProcess, cliJsonQuick, mainInProcess, spawnCli, startServer, BIN, ROOT, buildTestApp, tempDir, writePackageZip, type CliResult } from '../helpers/harness.js'
import { loadConfig } from '../../src/config.js'
import { createContext } from '../../src/context.js'
import { inParallel } from '../helpers/util.js'

const cli = cliInProcess
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

/** Runs the CLI with no --data-dir, in `cwd`, with exactly the given environment. */
function runBare (cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return mainInProcess(args, { cwd, env })
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
  const unlimited = { constraint: null, updatesUntil: null, minimumStability: null }
  t.same(await cliOk(dataDir, ['grant', 'alice', 'acme/pro']), { username: 'alice', package: 'acme/pro', granted: true, rule: unlimited })
  t.same(await cliOk(dataDir, ['grant', 'alice', 'acme/pro']), { username: 'alice', package: 'acme/pro', granted: true, rule: unlimited }, 'granting twice is harmless')
  t.same(await cliOk(dataDir, ['revoke', 'alice', 'acme/pro']), { username: 'alice', package: 'acme/pro', granted: false, rule: null })

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

  const notYet = await runBare(cwd, ['--json', 'account', 'list'])
  assertUserError(t, notYet, 1, new RegExp(`no data directory at ${path.join(cwd, 'storage').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')};`), 'default ./storage, not created by a read')
  const byDefault = await runBare(cwd, ['--json', 'account', 'create', 'defaultuser'])
  t.equal(byDefault.code, 0, byDefault.stderr)
  t.ok(existsSync(path.join(cwd, 'storage', 'packyard.sqlite')), 'default ./storage')
  t.same((await runBare(cwd, ['--json', 'account', 'list'])).json.map((a: { username: string }) => a.username), ['defaultuser'])
})

t.test('account password: sets a new password from stdin', async (t) => {
  const { app, dataDir } = await buildTestApp(t)
  const oldPassword = 'correct horse battery'
  const newPassword = 'a brand new passphrase'
  await cliOk(dataDir, ['account', 'create', 'alice', '--password-stdin'], { stdin: `${oldPassword}\n` })
  t.same(await cliOk(dataDir, ['account', 'password', 'alice'], { stdin: `${newPassword}\n` }), { username: 'alice', sessionsEnded: 0 })
  t.equal((await app.inject({ url: '/api/v1/account', headers: basic('alice', oldPassword) })).statusCode, 401, 'the old password no longer works')
  t.equal((await app.inject({ url: '/api/v1/account', headers: basic('alice', newPassword) })).statusCode, 200, 'the new one does')

  const text = await cli(dataDir, ['account', 'password', 'alice'], { stdin: `${oldPassword}\n` })
  t.equal(text.code, 0)
  t.equal(text.stdout, 'set the password of alice (0 sessions ended)\n')
  assertUserError(t, await cli(dataDir, ['account', 'password', 'alice'], { stdin: 'short\n' }), 1, /password/, 'a short password')
  assertUserError(t, await cli(dataDir, ['account', 'password', 'nobody'], { stdin: `${newPassword}\n` }), 1, /nobody/, 'an unknown account')
})

t.test('-V and --version print the version from package.json', async (t) => {
  const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }
  const dataDir = tempDir(t)
  for (const args of [['-V'], ['--version'], ['--version-info'], ['--json', '--version'], ['--data-dir', dataDir, '--version']]) {
    const r = await cli(dataDir, args)
    t.equal(r.code, 0, args.join(' '))
    t.equal(r.stdout, `${version}\n`, args.join(' '))
    t.equal(r.stderr, '', args.join(' '))
  }
  t.match((await cli(dataDir, ['--help'])).stdout, /--version/, 'the help mentions --version')
  const work = tempDir(t)
  const zip = await writePackageZip(work, { name: 'acme/widget' })
  const [published] = await cliOk(dataDir, ['publish', zip, '--version', '3.1.0'])
  t.equal(published.version, '3.1.0', "after a command, --version is still that command's option")
})

t.test('a data directory that is a file: one line naming it and the fix', async (t) => {
  const file = path.join(tempDir(t), 'not-a-dir')
  writeFileSync(file, 'x')
  const fix = /^packyard: data directory .*not-a-dir is a file; point --data-dir or PACKYARD_DATA_DIR at a directory\n$/
  assertUserError(t, await mainInProcess(['--data-dir', file, 'account', 'create', 'alice']), 1, fix, '--data-dir, a writing command')
  assertUserError(t, await mainInProcess(['account', 'list'], { env: { PACKYARD_DATA_DIR: file } }), 1, fix, 'PACKYARD_DATA_DIR, a reading command')
  assertUserError(t, await mainInProcess(['serve', '--port', '0'], { env: { PACKYARD_DATA_DIR: file } }), 1, fix, 'serve')
  assertUserError(t, await mainInProcess(['--data-dir', path.join(file, 'sub'), 'account', 'create', 'alice']), 1, /inside a file, not a directory; point --data-dir/, 'a directory below a file')
  t.equal(readFileSync(file, 'utf8'), 'x', 'the file is untouched')
})

t.test('commands that only read refuse a data directory that does not exist, and create nothing', async (t) => {
  const parent = tempDir(t)
  const missing = path.join(parent, 'typo')
  const reads = [['account', 'list'], ['key', 'list', 'alice'], ['package', 'list'], ['release', 'list'], ['edition', 'list'], ['backup', path.join(parent, 'backup')]]
  for (const args of reads) {
    const r = await cli(missing, ['--json', ...args])
    assertUserError(t, r, 1, /^packyard: no data directory at .*typo; check --data-dir \/ PACKYARD_DATA_DIR, or create it by running `packyard serve` or a command that writes\n$/, args.join(' '))
  }
  t.same(readdirSync(parent), [], 'nothing was created')
  const created = await cli(missing, ['--json', 'account', 'create', 'alice'])
  t.equal(created.code, 0, 'a writing command creates it')
  t.ok(existsSync(path.join(missing, 'packyard.sqlite')))
  t.same(await cliOk(missing, ['account', 'list']).then((l: Array<{ username: string }>) => l.map((a) => a.username)), ['alice'])
})

t.test('serve on a port in use: one line naming the port and the fix, and the database is closed', async (t) => {
  const dataDir = tempDir(t)
  const blocker = net.createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())))
  const port = (blocker.address() as net.AddressInfo).port
  const r = await cli(dataDir, ['serve', '--host', '127.0.0.1', '--port', String(port)], { env: { PACKYARD_LOG_LEVEL: 'silent' } })
  assertUserError(t, r, 1, new RegExp(`^packyard: port ${port} on 127\\.0\\.0\\.1 is already in use; stop the other server or choose another port with --port or PACKYARD_PORT\n$`), 'port in use')
  const viaEnv = await cli(dataDir, ['serve'], { env: { PACKYARD_HOST: '127.0.0.1', PACKYARD_PORT: String(port), PACKYARD_LOG_LEVEL: 'silent' } })
  assertUserError(t, viaEnv, 1, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`), 'port from PACKYARD_PORT')
  t.equal((await cli(dataDir, ['account', 'create', 'alice'])).code, 0, 'the data directory is usable afterwards')
})

t.test('the real packyard binary (smoke test; needs npm run build)', async (t) => {
  const dataDir = tempDir(t)
  const quick = { env: { NODE_OPTIONS: '' } }
  const created = await spawnCli(['--data-dir', dataDir, '--json', 'account', 'create', 'alice'], quick)
  t.equal(created.code, 0, created.stderr)
  t.equal(created.json?.username, 'alice')
  const failed = await spawnCli(['--data-dir', dataDir, 'key', 'list', 'nobody'], quick)
  assertUserError(t, failed, 1, /account "nobody" not found/, 'a user error from the real binary')
})

t.test('npm start (and the image, and an installed packyard) run the server through the #! line, with its Node options', async (t) => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  t.equal(pkg.scripts.start, 'bin/packyard.js serve', 'npm start runs the file as a program, not through `node`')
  const server = await startServer(t, tempDir(t), { viaShebang: true, env: { NODE_OPTIONS: '' } })
  // env -S execs node in place: the server's own command line shows what the #! line gave it.
  const cmdline = readFileSync(`/proc/${server.child.pid}/cmdline`, 'utf8').split('\0')
  t.same(cmdline.slice(1, 3), ['--max-semi-space-size=16', BIN], 'V8 young generation bounded (README "Configuration")')
  t.equal((await fetch(`${server.url}/healthz`)).status, 200, 'and it serves')
  t.equal(await server.stop(), 0, 'stops cleanly on SIGTERM')
})

/** `node <args>` without tap's NODE_OPTIONS, its output collected. */
function runScript (node: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, args, { env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, json: undefined }))
  })
}

/** A Node.js older than the supported 24: the machine's own when it is one (Debian's 18, some images' 20), else Node 20 from the npm registry (scripts/install-node.sh). */
function olderNode (): string {
  try {
    const version = execFileSync('/usr/bin/node', ['--version'], { encoding: 'utf8' }).trim()
    if (Number(version.slice(1).split('.')[0]) < 24) return '/usr/bin/node'
  } catch {}
  const out = execFileSync('bash', [path.join(ROOT, 'scripts', 'install-node.sh'), '20'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  return path.join(out.trim().split('\n').pop()!, 'node')
}

t.test('on a Node.js older than 24, packyard says which one it needs (not a SyntaxError from bin/packyard.js)', async (t) => {
  const node = olderNode()
  const r = await runScript(node, [BIN, '--data-dir', tempDir(t), 'account', 'list'])
  assertUserError(t, r, 1, /^packyard: Packyard needs Node\.js >=24; this is (1[0-9]|2[0-3])\.\d+\.\d+\n$/, `one line from ${node}`)
})

t.test('without a build, bin/packyard.js says so in one line', async (t) => {
  const checkout = tempDir(t)
  mkdirSync(path.join(checkout, 'bin'))
  copyFileSync(BIN, path.join(checkout, 'bin', 'packyard.js'))
  writeFileSync(path.join(checkout, 'package.json'), '{"type":"module"}')
  const r = await runScript(process.execPath, [path.join(checkout, 'bin', 'packyard.js'), 'account', 'list'])
  assertUserError(t, r, 1, /^packyard: the build output \(dist\/\) is missing; run `npm run build` \(or `npm ci`\) in /, 'missing dist')
  t.match(r.stderr, checkout, 'names the checkout')
})
