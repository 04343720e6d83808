// The downloads API with real curl against a real server; the in-process half is test/unit/downloads-api.test.ts.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { cliJson, runCli, startServer, tempDir, ROOT } from '../helpers/harness.js'
import { hash, seed, type Cred } from '../helpers/downloads.js'
import { requireTools } from '../helpers/tools.js'

t.test('downloads API with real curl: every command, the credentials in the URL, a resumed download, a replaced token', async (t) => {
  if (!requireTools(t, 'curl')) return
  const { dataDir, files, alice } = await seed(t)
  const server = await startServer(t, dataDir)
  const out = tempDir(t)
  const api = `${server.url}/products/downloads`
  const curl = (args: string[]) => {
    const r = spawnSync('curl', ['-sS', ...args], { cwd: out, encoding: 'buffer' })
    return { code: r.status, stdout: r.stdout.toString('utf8'), bytes: r.stdout, stderr: r.stderr.toString('utf8') }
  }
  const auth = ['-u', `${alice.mageId}:${alice.token}`]

  t.match(curl([...auth, `${api}/info/help`]).stdout, /info\/files/)
  const listed = curl([...auth, `${api}/info/files`]).stdout
  // The classic scripts' way of taking the file names: the last column.
  const names = spawnSync('sh', ['-c', "rev | awk '{print $1}' | rev"], { input: listed, encoding: 'utf8' }).stdout.trim().split('\n')
  t.same(names.sort(), Object.keys(files).sort())
  t.equal(curl([...auth, `${api}/info/versions`]).stdout, '2.4.6-p3\n2.4.6\n2.4.5\n')
  t.equal(curl([...auth, `${api}/info/filter/version/2.4.6-p*`]).stdout.trim().split('\n').length, 2)
  t.equal(curl([...auth, `${api}/info/filter/version/7.*`]).stdout, 'No results found.\n')
  t.match(curl([...auth, `${api}/info/filter/type/ee-full`]).stdout, /acme-suite-ee-2\.4\.5\.zip/)
  const feed = JSON.parse(curl([...auth, `${api}/info/json`]).stdout)
  t.equal(feed.files.length, 4)

  const bytes = files['acme-suite-ee-2.4.6-p3.zip']
  const headers = curl([...auth, '-D', '-', '-o', 'full.zip', `${api}/file/acme-suite-ee-2.4.6-p3.zip`]).stdout
  t.match(headers, new RegExp(`x-checksum-sha256: ${hash('sha256', bytes)}`, 'i'))
  t.match(headers, new RegExp(`content-length: ${bytes.length}`, 'i'))
  t.ok(readFileSync(path.join(out, 'full.zip')).equals(bytes))

  const inUrl = server.url.replace('http://', `http://${alice.mageId}:${alice.token}@`)
  const viaUrl = curl(['-o', 'via-url.zip', '-w', '%{http_code}', `${inUrl}/products/downloads/file/acme-suite-ce-2.4.6-p3.zip`])
  t.equal(viaUrl.stdout, '200', 'https://MAGEID:TOKEN@host/… style')
  t.ok(readFileSync(path.join(out, 'via-url.zip')).equals(files['acme-suite-ce-2.4.6-p3.zip']))

  // A broken download: the first 123,457 bytes are on disk; curl -C - fetches the rest.
  writeFileSync(path.join(out, 'partial.zip'), bytes.subarray(0, 123_457))
  const resumed = curl([...auth, '-C', '-', '-o', 'partial.zip', '-w', '%{http_code} %{size_download}', `${api}/file/acme-suite-ee-2.4.6-p3.zip`])
  t.equal(resumed.code, 0, resumed.stderr)
  t.equal(resumed.stdout, `206 ${bytes.length - 123_457}`, 'only the rest was sent')
  t.ok(readFileSync(path.join(out, 'partial.zip')).equals(bytes), 'the resumed file equals the original')

  const status = (args: string[]) => curl(['-o', '/dev/null', '-w', '%{http_code}', ...args]).stdout
  t.equal(status([`${api}/info/files`]), '401', 'no credentials')
  t.equal(status(['-u', `${alice.mageId}:${'f'.repeat(40)}`, `${api}/info/files`]), '401', 'wrong token')
  const replaced: Cred = await cliJson(dataDir, ['token', 'regenerate', 'alice'])
  t.equal(status([...auth, `${api}/file/acme-suite-ee-2.4.5.zip`]), '401', 'the replaced token')
  t.equal(status(['-u', `${replaced.mageId}:${replaced.token}`, `${api}/file/acme-suite-ee-2.4.5.zip`]), '200', 'the new token')
  t.notMatch(await server.settledLog(), alice.token, 'tokens never reach the log')
})

t.test('README: the downloads API operator commands and curl examples work as written', async (t) => {
  if (!requireTools(t, 'curl')) return
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const section = /^## Downloads API\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1]
  t.ok(section, 'the README has a Downloads API section')
  if (section === undefined) return
  const dataDir = tempDir(t)
  const work = tempDir(t)
  const files: Record<string, Buffer> = {}
  await cliJson(dataDir, ['account', 'create', 'alice'])
  let alice: Cred | undefined
  const ops = [...section.matchAll(/^\s*npx packyard (.+?)(?:\s+#.*)?$/gm)].map((m) => m[1]!.trim().split(/\s+/))
  t.ok(ops.length >= 5, `${ops.length} operator commands`)
  for (const args of ops) {
    for (const a of args.filter((x) => x.startsWith('./'))) {
      files[a.slice(2)] = randomBytes(50_000)
      writeFileSync(path.join(work, a.slice(2)), files[a.slice(2)]!)
    }
    const r = await runCli(dataDir, ['--json', ...args.map((a) => a.startsWith('./') ? path.join(work, a.slice(2)) : a)])
    t.equal(r.code, 0, `packyard ${args.join(' ')}: ${r.stderr}`)
    if (args[0] === 'token') alice = r.json
  }
  t.ok(alice, 'a token came out of the operator commands')
  if (alice === undefined) return
  const server = await startServer(t, dataDir)
  const commands = [...section.matchAll(/^\s*(curl .+)$/gm)].map((m) => m[1]!.trim())
  t.ok(commands.length >= 9, `${commands.length} curl examples`)
  for (const written of commands) {
    const command = written
      .replaceAll('http://localhost:8080', server.url)
      .replaceAll('localhost:8080', new URL(server.url).host)
      .replaceAll('MAGEID:TOKEN', `${alice.mageId}:${alice.token}`)
    const resumeOf = / -C - .*\/file\/(\S+)$/.exec(written)?.[1]
    if (resumeOf !== undefined) {
      // As after a broken download: only the first part of the file is on disk.
      t.ok(existsSync(path.join(work, resumeOf)), 'the example before downloaded it')
      writeFileSync(path.join(work, resumeOf), files[resumeOf]!.subarray(0, 12_345))
    }
    const res = spawnSync('sh', ['-c', command.replace(/^curl /, 'curl -sS --fail-with-body ')], { cwd: work, encoding: 'utf8' })
    t.equal(res.status, 0, `${written}\n${res.stderr}`)
    t.notMatch(res.stdout, /^(No results found\.|Error: )/m, written)
  }
  for (const [name, bytes] of Object.entries(files)) t.ok(readFileSync(path.join(work, name)).equals(bytes), `${name} downloaded intact`)
})
