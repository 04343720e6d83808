// Shared helpers for the benchmark scripts: temp dirs, real zip bytes, child servers,
// markdown tables. Everything here talks to 127.0.0.1 only and stops what it starts.
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import yazl from 'yazl'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const BIN = path.join(ROOT, 'bin', 'packyard.js')

/** A temp directory and a function that removes it (call it in a finally). */
export function tempDir (prefix = 'packyard-bench-') {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Real zip bytes from in-memory files. */
export function makeZip (files) {
  return new Promise((resolve, reject) => {
    const zip = new yazl.ZipFile()
    const mtime = new Date('2030-01-01T00:00:00Z')
    for (const [name, content] of Object.entries(files)) {
      zip.addBuffer(Buffer.isBuffer(content) ? content : Buffer.from(content), name, { mtime })
    }
    zip.end()
    const chunks = []
    zip.outputStream.on('data', (c) => chunks.push(c))
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)))
    zip.outputStream.on('error', reject)
  })
}

/** A composer.json shaped like a real library release (links, autoload, authors). */
export function composerJson (name, version, i = 0) {
  return {
    name,
    version,
    description: `Benchmark package ${name}: a library with a realistic manifest.`,
    type: 'library',
    license: ['MIT'],
    keywords: ['bench', 'packyard', name.split('/')[1]],
    homepage: `https://example.com/${name}`,
    authors: [{ name: 'Bench Author', email: 'bench@example.com' }],
    require: {
      php: '>=8.1',
      'psr/log': '^1.0 || ^2.0 || ^3.0',
      'symfony/console': i % 3 === 0 ? '^6.4' : '^6.4 || ^7.0'
    },
    'require-dev': { 'phpunit/phpunit': '^10.5' },
    autoload: { 'psr-4': { [`Bench\\${name.split('/')[1].replace(/[^a-z0-9]/g, '')}\\`]: 'src/' } },
    extra: { 'branch-alias': { 'dev-main': '1.x-dev' } }
  }
}

export function basicHeader (user, pass) {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`
}

const CLOCK_TICKS = (() => {
  try { return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100 } catch { return 100 }
})()

/** User + system CPU seconds a process has used so far, from /proc (Linux). */
export function cpuSecondsOf (pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) start at field 3; utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}

/** Resident set size of a process in bytes, from /proc (Linux). */
export function rssOf (pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? 0 : Number(m[1]) * 1024
}

/**
 * Starts a child process and resolves once its output matches `ready` (a regex whose
 * first group is the URL). `stop()` sends SIGTERM, then SIGKILL after 5 s.
 */
export function startChild (args, { env = {}, ready, timeoutMs = 20_000 }) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    let started = false
    let exited = false
    const exitedP = new Promise((resolve) => child.on('exit', (code, signal) => { exited = true; resolve(code ?? signal) }))
    const stop = async () => {
      if (!exited) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => { if (!exited) child.kill('SIGKILL') }, 5000)
        await exitedP
        clearTimeout(timer)
      }
    }
    const timer = setTimeout(() => {
      if (!started) { stop(); reject(new Error(`child did not start within ${timeoutMs} ms:\n${output}`)) }
    }, timeoutMs)
    const onData = (c) => {
      // Keep only the head of the log: the server logs every request.
      if (output.length < 20_000) output += c.toString()
      const m = ready.exec(output)
      if (!started && m !== null) {
        started = true
        clearTimeout(timer)
        resolve({ url: m[1], pid: child.pid, child, stop, output: () => output })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    exitedP.then((code) => {
      clearTimeout(timer)
      if (!started) reject(new Error(`child exited (${code}) before it was ready:\n${output}`))
    })
  })
}

/** A markdown table: `rows` are arrays of cells, already formatted. */
export function table (header, rows) {
  const lines = [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`)
  ]
  return lines.join('\n')
}

export const fmt = {
  int: (n) => Math.round(n).toLocaleString('en-US'),
  num: (n, digits = 1) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }),
  mb: (bytes) => (bytes / (1024 * 1024)).toLocaleString('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 }),
  ratio: (n) => `${n >= 10 ? n.toFixed(0) : n.toFixed(2)}×`
}

/** Bench durations can be shortened for a smoke run: BENCH_SCALE=0.2 npm run bench. */
export const SCALE = Math.min(1, Math.max(0.05, Number(process.env.BENCH_SCALE ?? 1) || 1))

export function header (title) {
  console.log(`\n### ${title}\n`)
}
