// Process and temp-dir bookkeeping for the benchmark: everything started or created is
// registered here and torn down by cleanup(), which run.mjs calls in a finally and on
// SIGINT/SIGTERM. Only the process ids started here are signalled.
import { spawn } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

const children = new Set()
const dirs = new Set()

/** A temp directory, removed by cleanup(). */
export function tempDir (prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  dirs.add(dir)
  return dir
}

/**
 * Starts a long-running child (a server). Its stdout/stderr go to `logFile` (opened with
 * O_APPEND so it can be truncated while the child writes). Returns { pid, child, stop, exited }.
 */
export function startProcess (cmd, args, { env, logFile, cwd } = {}) {
  const fd = openSync(logFile ?? '/dev/null', 'a')
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', fd, fd] })
  closeSync(fd)
  let exited = false
  const exitedP = new Promise((resolve) => child.on('exit', (code, signal) => { exited = true; children.delete(entry); resolve(code ?? signal) }))
  child.on('error', () => {})
  const stop = async (signal = 'SIGTERM') => {
    if (exited) return
    child.kill(signal)
    const t = setTimeout(() => { if (!exited) child.kill('SIGKILL') }, 5000)
    await exitedP
    clearTimeout(t)
  }
  const entry = { child, stop, isExited: () => exited }
  children.add(entry)
  return { pid: child.pid, child, stop, exited: exitedP, isExited: () => exited }
}

/**
 * Runs a command to completion, with a time limit. Resolves { code, stdout, stderr, seconds }.
 * Output is kept up to `maxOutput` characters each.
 */
export function run (cmd, args, { env, cwd, timeoutMs = 600_000, input, maxOutput = 4_000_000 } = {}) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint()
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, cwd, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
    const entry = { child, stop: async () => { child.kill('SIGKILL') }, isExited: () => false }
    children.add(entry)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c) => { if (stdout.length < maxOutput) stdout += c })
    child.stderr.on('data', (c) => { if (stderr.length < maxOutput) stderr += c })
    if (input !== undefined) child.stdin.end(input)
    const timer = setTimeout(() => { child.kill('SIGKILL'); stderr += `\n[killed after ${timeoutMs} ms]` }, timeoutMs)
    child.on('error', (err) => { clearTimeout(timer); children.delete(entry); reject(err) })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      children.delete(entry)
      resolve({ code: code ?? signal, stdout, stderr, seconds: Number(process.hrtime.bigint() - start) / 1e9 })
    })
  })
}

/** run(), but throws with the output when the exit code is not 0. */
export async function runOk (cmd, args, opts) {
  const r = await run(cmd, args, opts)
  if (r.code !== 0) throw new Error(`${cmd} ${args.slice(0, 4).join(' ')}… exited ${r.code}\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-2000)}`)
  return r
}

/** A free TCP port on 127.0.0.1 (asks the kernel, then releases it). */
export function freePort () {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

/** Polls `url` until it answers `status` (bounded); returns seconds waited. */
export async function waitForHttp (url, { headers = {}, status = 200, timeoutMs = 60_000, isExited = () => false, intervalMs = 10 } = {}) {
  const start = process.hrtime.bigint()
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (isExited()) throw new Error(`server for ${url} exited before answering`)
    try {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) })
      await res.arrayBuffer()
      if (res.status === status) return Number(process.hrtime.bigint() - start) / 1e9
    } catch {}
    await sleep(intervalMs)
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms`)
}

/** VmRSS of a process in bytes (Linux /proc), 0 when unavailable. */
export function rssOf (pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? 0 : Number(m[1]) * 1024
  } catch { return 0 }
}

/** Direct child process ids of `pid` (Linux /proc). */
export function childPids (pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch { return [] }
}

/** Stops every child still running, then removes every temp dir. Safe to call twice. */
export async function cleanup ({ keepDirs = false } = {}) {
  await Promise.all([...children].map((c) => c.stop().catch(() => {})))
  children.clear()
  if (!keepDirs) for (const d of dirs) rmSync(d, { recursive: true, force: true })
  dirs.clear()
}
