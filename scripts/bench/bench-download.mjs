// Archive download memory: a ~200 MB archive downloaded by 4 concurrent clients from the
// real `packyard serve` process, against a child server that reads the file into memory
// per request, and a bare node:http streaming floor. RSS is sampled from /proc every 50 ms.
import { createHash, randomFillSync } from 'node:crypto'
import { createReadStream, createWriteStream, openSync, writeSync, closeSync, unlinkSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import yazl from 'yazl'
import { createContext } from '../../dist/context.js'
import { loadConfig } from '../../dist/config.js'
import { distFileName } from '../../dist/composer/metadata.js'
import { BIN, basicHeader, cpuSecondsOf, fmt, header, rssOf, SCALE, startChild, table, tempDir } from './lib.mjs'

const PAYLOAD_MB = Math.max(20, Math.round(200 * SCALE))
const CLIENTS = 4
const ROUNDS = 2
const SAMPLE_MS = 50
const DOWNLOAD_TIMEOUT_MS = 60_000
const FILE_SERVER = fileURLToPath(new URL('./file-server.mjs', import.meta.url))

/** Writes PAYLOAD_MB of random (incompressible) bytes and zips them, stored without compression. */
async function writeBigArchive (dir) {
  const payload = path.join(dir, 'payload.bin')
  const fd = openSync(payload, 'w')
  const chunk = Buffer.allocUnsafe(4 * 1024 * 1024)
  for (let written = 0; written < PAYLOAD_MB * 1024 * 1024; written += chunk.length) writeSync(fd, randomFillSync(chunk))
  closeSync(fd)
  const zipPath = path.join(dir, 'bench-big-1.0.0.zip')
  const zip = new yazl.ZipFile()
  zip.addBuffer(Buffer.from(JSON.stringify({ name: 'bench/big', version: '1.0.0', type: 'library' })), 'composer.json')
  zip.addFile(payload, 'data/payload.bin', { compress: false })
  zip.end()
  await pipeline(zip.outputStream, createWriteStream(zipPath))
  unlinkSync(payload)
  return zipPath
}

/** One download, body consumed and counted (optionally hashed). */
function download (url, headers, hash) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      if (res.statusCode !== 200) { res.resume(); reject(new Error(`${url}: HTTP ${res.statusCode}`)); return }
      const sha1 = hash ? createHash('sha1') : undefined
      let bytes = 0
      res.on('data', (c) => { bytes += c.length; sha1?.update(c) })
      res.on('end', () => resolve({ bytes, expected: Number(res.headers['content-length']), sha1: sha1?.digest('hex') }))
      res.on('error', reject)
    })
    req.setTimeout(DOWNLOAD_TIMEOUT_MS, () => req.destroy(new Error('download timed out')))
    req.on('error', reject)
  })
}

const elapsedMs = (start) => Number(process.hrtime.bigint() - start) / 1e6

/** Reads a file once and computes SHA-1 and SHA-256, as staging does, without writing anything. */
async function hashFile (file) {
  const sha1 = createHash('sha1')
  const sha256 = createHash('sha256')
  for await (const chunk of createReadStream(file)) { sha1.update(chunk); sha256.update(chunk) }
  return { sha1: sha1.digest('hex'), sha256: sha256.digest('hex') }
}

async function measure (label, server, url, headers, size) {
  // Settle, then take the idle RSS as the baseline (median of a few samples).
  await sleep(500)
  const idle = []
  for (let i = 0; i < 5; i++) { idle.push(rssOf(server.pid)); await sleep(SAMPLE_MS) }
  const baseline = idle.sort((a, b) => a - b)[2]
  let peak = baseline
  let bestMbPerSec = 0
  const cpuBefore = cpuSecondsOf(server.pid)
  const sampler = setInterval(() => { peak = Math.max(peak, rssOf(server.pid)) }, SAMPLE_MS)
  try {
    // Peak RSS over every round; throughput from the best round (other load on the machine is bursty).
    for (let round = 0; round < ROUNDS; round++) {
      const start = process.hrtime.bigint()
      const results = await Promise.all(Array.from({ length: CLIENTS }, () => download(url, headers, false)))
      const seconds = Number(process.hrtime.bigint() - start) / 1e9
      for (const r of results) if (r.bytes !== size || r.expected !== size) throw new Error(`${label}: got ${r.bytes} of ${size} bytes`)
      peak = Math.max(peak, rssOf(server.pid))
      bestMbPerSec = Math.max(bestMbPerSec, (CLIENTS * size) / (1024 * 1024) / seconds)
    }
    const gib = (ROUNDS * CLIENTS * size) / 1024 ** 3
    return { label, baseline, peak, mbPerSec: bestMbPerSec, cpuPerGiB: (cpuSecondsOf(server.pid) - cpuBefore) / gib }
  } finally {
    clearInterval(sampler)
  }
}

async function main () {
  const tmp = tempDir()
  const children = []
  try {
    const dataDir = path.join(tmp.dir, 'data')
    const zipPath = await writeBigArchive(tmp.dir)
    const ctx = createContext(loadConfig({}, { dataDir }))
    let auth, archivePath, distUrl, size, shasum
    const publishTimes = {}
    try {
      const account = await ctx.accounts.create({ username: 'alice' })
      const { key, privateKey } = ctx.keys.create(account.id, 'bench')
      auth = { authorization: basicHeader(key.publicKey, privateKey) }
      let t = process.hrtime.bigint()
      const published = await ctx.catalog.publish(zipPath, { access: 'public' })
      publishTimes.new = elapsedMs(t)
      // The same bytes again is a no-op for the catalog; how much I/O does it still cost?
      t = process.hrtime.bigint()
      if ((await ctx.catalog.publish(zipPath)).created) throw new Error('re-publish created a version')
      publishTimes.noop = elapsedMs(t)
      t = process.hrtime.bigint()
      await hashFile(zipPath)
      publishTimes.hashOnly = elapsedMs(t)
      const version = ctx.repos.packages.findVersion(ctx.catalog.get('bench/big').id, published.versionNormalized)
      archivePath = ctx.store.finalPath(version.sha256)
      distUrl = `/archives/bench/big/${distFileName('bench/big', published.versionNormalized)}`
      size = version.size
      shasum = published.shasum
    } finally {
      ctx.close()
    }
    unlinkSync(zipPath)

    const servers = [
      ['Packyard (`packyard serve`, streams the file)', () => startChild([BIN, 'serve', '--host', '127.0.0.1', '--port', '0'], {
        env: { PACKYARD_DATA_DIR: dataDir, PACKYARD_LOG_LEVEL: 'info' },
        ready: /Server listening at (http:\/\/127\.0\.0\.1:\d+)/
      }), distUrl, auth, '/packages.json'],
      ['Reference: node:http + fs.readFile, then send', () => startChild([FILE_SERVER, archivePath, 'readFile'], {
        ready: /listening at (http:\/\/127\.0\.0\.1:\d+)/
      }), '/archive.zip', {}, '/warm-up'],
      ['Floor: node:http + fs.createReadStream, no auth', () => startChild([FILE_SERVER, archivePath, 'stream'], {
        ready: /listening at (http:\/\/127\.0\.0\.1:\d+)/
      }), '/archive.zip', {}, '/warm-up']
    ]
    const results = []
    for (const [label, start, urlPath, headers, warmPath] of servers) {
      const server = await start()
      children.push(server)
      // A small request first, so the baseline is an idle server that has answered HTTP.
      await fetch(`${server.url}${warmPath}`, { headers }).then((res) => res.arrayBuffer())
      results.push(await measure(label, server, `${server.url}${urlPath}`, headers, size))
      // Afterwards, one more download: every server must answer exactly the published bytes.
      const check = await download(`${server.url}${urlPath}`, headers, true)
      if (check.sha1 !== shasum) throw new Error(`${label}: downloaded archive does not match dist.shasum`)
      await server.stop()
    }

    header(`Archive download memory (${fmt.mb(size)} MiB archive, ${CLIENTS} concurrent clients × ${ROUNDS} rounds, RSS sampled every ${SAMPLE_MS} ms)`)
    console.log(table(
      ['server (child process)', 'idle RSS MiB', 'peak RSS MiB', 'peak growth MiB', 'growth / archive size', 'throughput MiB/s (all clients, best round)', 'server CPU s per GiB sent'],
      results.map((r) => [r.label, fmt.mb(r.baseline), fmt.mb(r.peak), fmt.mb(r.peak - r.baseline), fmt.ratio((r.peak - r.baseline) / size), fmt.int(r.mbPerSec), fmt.num(r.cpuPerGiB, 2)])
    ))
    console.log(`\nPublishing this archive took ${fmt.int(publishTimes.new)} ms; publishing the same bytes again (a no-op) took ` +
      `${fmt.int(publishTimes.noop)} ms, where only reading and hashing it takes ${fmt.int(publishTimes.hashOnly)} ms.`)
    console.log('\nIdle RSS: the freshly started server after one small request. After the measured round each server served one more download, whose SHA-1 matched dist.shasum.')
  } finally {
    for (const c of children) await c.stop()
    tmp.remove()
  }
}

await main()
