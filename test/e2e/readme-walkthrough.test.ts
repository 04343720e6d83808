// The README's "Your first package, from nothing", run as written: its ```sh blocks, in
// order, in one bash, against a real `packyard serve`. The only changes are the ones a
// reader's machine makes for them: the server's host:port instead of localhost:8080, the
// built command instead of `npx packyard` (npx in a temp directory would not find it),
// the data directory the server uses, and a fresh Composer home and cache.
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { BIN, ROOT, startServer, tempDir } from '../helpers/harness.js'
import { requireTools } from '../helpers/tools.js'

const HEADING = '## Your first package, from nothing'

/** The section under `heading`, up to the next `## ` heading. */
function readmeSection (heading: string): string | undefined {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf(`\n${heading}\n`)
  if (start === -1) return undefined
  const rest = readme.slice(start + heading.length + 2)
  const end = rest.search(/^## /m)
  return end === -1 ? rest : rest.slice(0, end)
}

function shBlocks (section: string): string[] {
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!)
}

function runBash (script: string, opts: { cwd: string, env: Record<string, string | undefined>, timeoutMs: number }): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => { stderr += `\n(killed after ${opts.timeoutMs} ms)`; child.kill('SIGKILL') }, opts.timeoutMs)
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    child.on('error', (err) => { clearTimeout(timer); reject(err) })
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

t.test('README: the first-package walk-through runs as written', async (t) => {
  if (!requireTools(t, 'bash', 'zip', 'composer', 'php', 'unzip')) return
  const section = readmeSection(HEADING)
  t.ok(section, `the README has "${HEADING}"`)
  if (section === undefined) return
  const blocks = shBlocks(section)
  t.ok(blocks.length >= 4, `${blocks.length} sh blocks`)
  const expected = /The last line prints `([^`]+)`/.exec(section)?.[1]
  t.ok(expected, 'the section says what the last line prints')
  const written = blocks.join('\n')
  for (const step of ['zip -r', 'npx packyard publish', 'npx packyard grant', 'npx packyard key create', 'composer require acme/hello', 'php -r']) {
    t.ok(written.includes(step), `the walk-through runs ${step}`)
  }

  const dataDir = tempDir(t)
  const work = tempDir(t, 'packyard-readme-')
  const composerHome = path.join(tempDir(t, 'packyard-composer-home-'), 'home')
  mkdirSync(composerHome)
  const server = await startServer(t, dataDir)
  const host = new URL(server.url).host

  const script = 'set -euo pipefail\n' + written
    .replaceAll('localhost:8080', host)
    .replaceAll('npx packyard ', `"${process.execPath}" "${BIN}" `)
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PACKYARD_') && !k.startsWith('COMPOSER')))
  const res = await runBash(script, {
    cwd: work,
    timeoutMs: 300_000,
    env: {
      ...env,
      // tap's coverage hook would slow every `node` the walk-through starts
      NODE_OPTIONS: '',
      PACKYARD_DATA_DIR: dataDir,
      COMPOSER_HOME: composerHome,
      COMPOSER_CACHE_DIR: path.join(composerHome, 'cache'),
      COMPOSER_NO_INTERACTION: '1',
      COMPOSER_ALLOW_SUPERUSER: '1',
      COLUMNS: '1000'
    }
  })
  const output = `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`
  t.equal(res.code, 0, 'every command succeeds', { output })
  t.equal(res.stdout.trimEnd().split('\n').at(-1), expected, 'the php line uses the installed class', { output })
  if (res.code !== 0) return

  const app = path.join(work, 'hello-app')
  t.ok(existsSync(path.join(app, 'vendor', 'acme', 'hello', 'src', 'Hello.php')), 'composer installed vendor/acme/hello')
  const lock = JSON.parse(readFileSync(path.join(app, 'composer.lock'), 'utf8')) as { packages: Array<{ name: string, version: string, dist?: { url: string } }> }
  t.match(lock.packages, [{ name: 'acme/hello', version: '1.0.0', dist: { url: new RegExp(`^${server.url}/`) } }], 'composer.lock holds acme/hello 1.0.0 from the server')
  t.same(JSON.parse(readFileSync(path.join(app, 'composer.json'), 'utf8')).require, { 'acme/hello': '^1.0' }, 'composer require wrote the constraint')

  const auth = JSON.parse(readFileSync(path.join(app, 'auth.json'), 'utf8')) as { 'http-basic': Record<string, { username: string, password: string }> }
  const pair = auth['http-basic'][host]
  t.match(pair, { username: /^[0-9a-f]{32}$/, password: /^[0-9a-f]{32}$/ }, 'auth.json holds the key pair under host:port')
  if (pair !== undefined) t.notOk((await server.settledLog()).includes(pair.password), 'the private key never reaches the server log')

  t.equal(await server.stop(), 0, 'the server stops cleanly')
})
