// Secondary benchmarks: Packyard against weaker versions of itself and in-process
// references (hot-path costs, auth, download memory, publish I/O). The headline comparison
// with nginx is run.mjs. `node scripts/bench/secondary.mjs auth publish` runs only the named
// ones (also `npm run bench -- --secondary [names]`). BENCH_SCALE=0.2 shortens every run.
import { spawn } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'

const BENCHES = ['metadata', 'auth', 'download', 'publish']
const TIME_LIMIT_MS = 150_000

const wanted = process.argv.slice(2)
const unknown = wanted.filter((w) => !BENCHES.includes(w))
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}: choose from ${BENCHES.join(', ')}`)
  process.exit(2)
}

function runOne (name) {
  return new Promise((resolve) => {
    const file = fileURLToPath(new URL(`./bench-${name}.mjs`, import.meta.url))
    const child = spawn(process.execPath, [file], { stdio: 'inherit' })
    const timer = setTimeout(() => {
      console.error(`bench-${name}: over ${TIME_LIMIT_MS / 1000} s, stopping it`)
      child.kill('SIGTERM')
      setTimeout(() => child.kill('SIGKILL'), 5000).unref()
    }, TIME_LIMIT_MS)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve(code === 0 && signal === null ? 0 : 1)
    })
  })
}

const load = () => loadavg().map((n) => n.toFixed(2)).join(' ')
const cpu = cpus()
console.log(`# Packyard secondary benchmarks, ${new Date().toISOString().slice(0, 10)}`)
console.log(`Node ${process.version}, ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ${process.platform} ${process.arch}; load average at start: ${load()}`)

const started = Date.now()
const failed = []
for (const name of wanted.length > 0 ? wanted : BENCHES) {
  if (await runOne(name) !== 0) failed.push(name)
}
console.log(`\nDone in ${Math.round((Date.now() - started) / 1000)} s; load average at end: ${load()}.`)
if (failed.length > 0) {
  console.error(`failed: ${failed.join(', ')}`)
  process.exitCode = 1
}
