import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import yazl from 'yazl'
import type { FastifyInstance } from 'fastify'
import { loadConfig, type Config, type ConfigInput } from '../../src/config.js'
import { buildApp } from '../../src/app.js'
import { main } from '../../src/cli/main.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const BIN = path.join(ROOT, 'bin', 'packyard.js')

interface Teardown { teardown: (fn: () => unknown) => void }

/** A temp directory removed when the test ends. */
export function tempDir (t: Teardown, prefix = 'packyard-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Real zip bytes. `prefix` puts every file inside one top-level folder, as GitHub archives do. */
export function makeZip (files: Record<string, string | Buffer>, opts: { prefix?: string } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const zip = new yazl.ZipFile()
    const mtime = new Date('2030-01-01T00:00:00Z')
    for (const [name, content] of Object.entries(files)) {
      const entry = (opts.prefix === undefined ? '' : `${opts.prefix}/`) + name
      zip.addBuffer(Buffer.isBuffer(content) ? content : Buffer.from(content), entry, { mtime })
    }
    zip.end()
    const chunks: Buffer[] = []
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c))
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)))
    zip.outputStream.on('error', reject)
  })
}

/** Writes a package archive whose composer.json is `composer` plus a PHP class file. */
export async function writePackageZip (dir: string, composer: Record<string, unknown>, opts: { prefix?: string, files?: Record<string, string>, fileName?: string } = {}): Promise<string> {
  const name = String(composer.name ?? 'unnamed').replace('/', '-')
  const file = path.join(dir, opts.fileName ?? `${name}-${String(composer.version ?? 'x')}-${Math.random().toString(36).slice(2, 8)}.zip`)
  const files = { 'composer.json': JSON.stringify(composer, null, 2), ...(opts.files ?? {}) }
  writeFileSync(file, await makeZip(files, opts.prefix === undefined ? {} : { prefix: opts.prefix }))
  return file
}

export interface CliResult {
  code: number
  stdout: string
  stderr: string
  /** stdout parsed as JSON when it is JSON, else undefined. */
  json: any
}

export interface SpawnCliOptions {
  stdin?: string
  env?: Record<string, string>
  cwd?: string
  /** Start from the environment without PACKYARD_* and NODE_OPTIONS (tap's coverage hook). */
  cleanEnv?: boolean
}

/** Runs the real `packyard` command (bin/packyard.js → dist) in a child process. */
export function spawnCli (args: string[], opts: SpawnCliOptions = {}): Promise<CliResult> {
  const base = opts.cleanEnv === true
    ? Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PACKYARD_') && k !== 'NODE_OPTIONS'))
    : process.env
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd,
      env: { ...base, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    child.on('error', reject)
    child.on('close', (code) => {
      let json: unknown
      try { json = JSON.parse(stdout) } catch { json = undefined }
      resolve({ code: code ?? -1, stdout, stderr, json })
    })
    child.stdin.end(opts.stdin ?? '')
  })
}

/** Runs `packyard --data-dir <dataDir> …`. */
export function runCli (dataDir: string, args: string[], opts: SpawnCliOptions = {}): Promise<CliResult> {
  return spawnCli(['--data-dir', dataDir, ...args], opts)
}

export interface InProcessCliOptions {
  stdin?: string
  /** The command's whole environment (nothing is inherited from this process). */
  env?: Record<string, string>
  /** Where relative paths resolve; this process's cwd when unset. */
  cwd?: string
}

/** Runs `packyard <args>` through main(argv, io) in this process, capturing its output. */
export async function mainInProcess (args: string[], opts: InProcessCliOptions = {}): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  const code = await main(args, {
    stdout: (s) => { stdout += s },
    stderr: (s) => { stderr += s },
    stdin: async () => opts.stdin ?? '',
    isTTY: false,
    env: { ...opts.env },
    cwd: opts.cwd ?? process.cwd()
  })
  let json: unknown
  try { json = JSON.parse(stdout) } catch { json = undefined }
  return { code, stdout, stderr, json }
}

/** `packyard <args>` in process, with PACKYARD_DATA_DIR set to `dataDir`. */
export function cliInProcess (dataDir: string, args: string[], opts: InProcessCliOptions = {}): Promise<CliResult> {
  return mainInProcess(args, { ...opts, env: { PACKYARD_DATA_DIR: dataDir, ...opts.env } })
}

/** The CLI in process: for files that run many commands, where a process per command is slow. */
export function runCliQuick (dataDir: string, args: string[], opts: { stdin?: string } = {}): Promise<CliResult> {
  return cliInProcess(dataDir, args, opts)
}

/** runCliQuick with --json, failing loudly when the command fails. */
export async function cliJsonQuick (dataDir: string, args: string[], opts: { stdin?: string } = {}): Promise<any> {
  const r = await runCliQuick(dataDir, ['--json', ...args], opts)
  if (r.code !== 0) throw new Error(`packyard ${args.join(' ')} failed (${r.code}): ${r.stderr}`)
  return r.json
}

/** Like runCli with --json, failing loudly when the command fails. */
export async function cliJson (dataDir: string, args: string[], opts: { stdin?: string } = {}): Promise<any> {
  const r = await runCli(dataDir, ['--json', ...args], opts)
  if (r.code !== 0) throw new Error(`packyard ${args.join(' ')} failed (${r.code}): ${r.stderr}`)
  return r.json
}

export interface ServerProcess {
  url: string
  port: number
  child: ChildProcess
  /** Everything the server logged so far. */
  log: () => string
  /**
   * Everything the server logged up to now, once it has all arrived: the server writes its
   * log asynchronously, so this requests a marker URL and waits for its access line (lines
   * keep their order). Use it before asserting what is, or is not, in the log.
   */
  settledLog: () => Promise<string>
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

/** Starts `packyard serve` as a real process on 127.0.0.1 with a free port. */
export function startServer (t: Teardown, dataDir: string, opts: { env?: Record<string, string>, args?: string[], viaShebang?: boolean } = {}): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    // viaShebang: bin/packyard.js run as a program, through its #! line, as `npm start`, the
    // image and an installed `packyard` run it (with this process's Node first on PATH).
    const shebang = opts.viaShebang === true
    const [command, ...args] = [...(shebang ? [] : [process.execPath]), BIN, '--data-dir', dataDir, 'serve', '--host', '127.0.0.1', '--port', '0', ...(opts.args ?? [])]
    const child = spawn(command!, args, {
      env: {
        ...process.env,
        PACKYARD_LOG_LEVEL: 'info',
        ...(shebang ? { PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` } : {}),
        ...opts.env
      },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let log = ''
    let started = false
    let exitCode: number | null | undefined
    // 'close', not 'exit': the log lines written at exit have arrived by then.
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => { exitCode = code; resolve(code) }))
    const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
      if (exitCode === undefined) child.kill(signal)
      return await exited
    }
    t.teardown(() => stop('SIGKILL'))
    const onData = (c: Buffer): void => {
      log += c.toString()
      const m = /Server listening at (http:\/\/127\.0\.0\.1:(\d+))/.exec(log)
      if (!started && m !== null) {
        started = true
        const url = m[1]!
        const settledLog = async (): Promise<string> => {
          if (exitCode !== undefined) return log
          const marker = `log-barrier-${Math.random().toString(36).slice(2)}`
          await fetch(`${url}/healthz?${marker}`)
          for (let i = 0; i < 200 && !log.includes(marker); i++) await new Promise((resolve) => setTimeout(resolve, 10))
          return log
        }
        resolve({ url, port: Number(m[2]), child, log: () => log, settledLog, stop })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    exited.then((code) => { if (!started) reject(new Error(`server exited (${code}) before listening:\n${log}`)) }, reject)
  })
}

export interface TestApp {
  app: FastifyInstance
  config: Config
  dataDir: string
  /** Everything logged so far. */
  log: () => string
}

/** An in-process app on its own temp directory and real SQLite file, for app.inject tests. */
export async function buildTestApp (t: Teardown, overrides: ConfigInput = {}): Promise<TestApp> {
  const dataDir = tempDir(t)
  const config = loadConfig({}, { dataDir, lastUsedFlushMs: 0, logLevel: 'info', ...overrides })
  let log = ''
  const logStream = { write: (s: string) => { log += s; return true } } as unknown as NodeJS.WritableStream
  const app = await buildApp(config, { logStream })
  t.teardown(() => app.close())
  return { app, config, dataDir, log: () => log }
}

export function basic (user: string, pass: string): { authorization: string } {
  return { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` }
}

export interface ComposerProject {
  dir: string
  home: string
  /**
   * Runs composer non-interactively in the project, with `--no-progress` unless
   * `noProgress: false` (for commands that refuse it, such as show and audit).
   */
  run: (args: string[], opts?: { noProgress?: boolean }) => Promise<{ code: number, output: string }>
  setAuth: (publicKey: string, privateKey: string) => void
}

/**
 * A Composer project pointed at a Packyard server, packagist.org disabled, with its own
 * COMPOSER_HOME and cache so nothing leaks between tests.
 */
export function composerProject (t: Teardown, serverUrl: string, opts: { require?: Record<string, string>, minimumStability?: string } = {}): ComposerProject {
  const dir = tempDir(t, 'packyard-composer-')
  const home = path.join(dir, '.composer-home')
  mkdirSync(home)
  const origin = new URL(serverUrl).host
  writeFileSync(path.join(dir, 'composer.json'), JSON.stringify({
    name: 'test/project',
    require: opts.require ?? {},
    repositories: [{ type: 'composer', url: serverUrl }, { 'packagist.org': false }],
    config: { 'secure-http': false, 'allow-plugins': false },
    ...(opts.minimumStability === undefined ? {} : { 'minimum-stability': opts.minimumStability })
  }, null, 2))
  return {
    dir,
    home,
    setAuth (publicKey, privateKey) {
      writeFileSync(path.join(dir, 'auth.json'), JSON.stringify({ 'http-basic': { [origin]: { username: publicKey, password: privateKey } } }))
    },
    run (args, opts = {}) {
      const flags = opts.noProgress === false ? ['--no-interaction', '--no-ansi'] : ['--no-interaction', '--no-progress', '--no-ansi']
      return new Promise((resolve, reject) => {
        const child = spawn('composer', [...args, ...flags], {
          cwd: dir,
          env: {
            ...process.env,
            COMPOSER_HOME: home,
            COMPOSER_CACHE_DIR: path.join(home, 'cache'),
            COMPOSER_NO_INTERACTION: '1',
            COMPOSER_ALLOW_SUPERUSER: '1',
            COMPOSER_DISABLE_XDEBUG_WARN: '1'
          },
          stdio: ['ignore', 'pipe', 'pipe']
        })
        let output = ''
        child.stdout.on('data', (c: Buffer) => { output += c.toString() })
        child.stderr.on('data', (c: Buffer) => { output += c.toString() })
        child.on('error', reject)
        child.on('close', (code) => resolve({ code: code ?? -1, output }))
      })
    }
  }
}
