// The headline benchmark: Packyard (`packyard serve`, log level info) against the static
// alternative, the same metadata bytes as files behind nginx with auth_basic, measured in
// one run and alternated A B A B for every measure.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createWriteStream, mkdirSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { BIN, NODE_FLAGS, accountWithKey, cli, packageName, publishCatalogue, writeBigZip, writeProject } from './catalogue.mjs'
import { startNginx } from './nginx.mjs'
import { childPids, freePort, rssOf, startProcess, tempDir, waitForHttp } from './procs.mjs'
import { basic, composerUpdate, curlDownloads, which, wrk, writeWrkScript } from './tools.mjs'

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Starts `packyard serve` on 127.0.0.1:port; resolves once /packages.json answers 200 with the key. */
export async function startPackyard ({ dataDir, port, level, logFile, auth, timeoutMs = 120_000 }) {
  const proc = startProcess(process.execPath, [...NODE_FLAGS, BIN, 'serve', '--host', '127.0.0.1', '--port', String(port)], {
    env: { PACKYARD_DATA_DIR: dataDir, PACKYARD_LOG_LEVEL: level },
    logFile
  })
  const url = `http://127.0.0.1:${port}`
  const coldStartSeconds = await waitForHttp(`${url}/packages.json`, { headers: { authorization: basic(auth) }, isExited: proc.isExited, timeoutMs, intervalMs: 5 })
  return { ...proc, url, logFile, coldStartSeconds }
}

/** GET with an explicit Host header (so Packyard writes the nginx origin into its URLs). */
function get (url, headers, toFile) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      if (toFile !== undefined && res.statusCode === 200) {
        const sha1 = createHash('sha1')
        res.on('data', (c) => sha1.update(c))
        pipeline(res, createWriteStream(toFile)).then(() => resolve({ status: 200, sha1: sha1.digest('hex') }), reject)
        return
      }
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.setTimeout(120_000, () => req.destroy(new Error(`${url}: timed out`)))
    req.on('error', reject)
  })
}

/**
 * The bytes a resolve that reads every metadata document of the catalogue (packages.json and
 * all p2 files: about what a Magento project's resolve fetches) transfers from Packyard with
 * no compression, with gzip (what Composer asks for) and with brotli.
 */
async function transferBytes (packyardUrl, auth, paths) {
  const totals = { identity: 0, gzip: 0, br: 0, documents: 0 }
  for (const p of ['/packages.json', ...paths]) {
    for (const coding of ['identity', 'gzip', 'br']) {
      const res = await get(`${packyardUrl}${p}`, { authorization: basic(auth), 'accept-encoding': coding })
      if (res.status !== 200) throw new Error(`${p} (${coding}): ${res.status}`)
      totals[coding] += res.body.length
    }
    totals.documents++
  }
  return totals
}

/**
 * Mirrors Packyard's metadata (and one archive) into `root` as Satis would: exact bytes,
 * same paths. Requested with Host = the nginx origin, so the absolute URLs inside
 * (metadata-url, dist urls) point at nginx, exactly as Packyard would serve them there.
 */
async function mirror (packyardUrl, nginxHost, auth, root, bigName) {
  const headers = { authorization: basic(auth), host: nginxHost }
  const save = (p, body) => { const f = path.join(root, p); mkdirSync(path.dirname(f), { recursive: true }); writeFileSync(f, body) }
  const top = await get(`${packyardUrl}/packages.json`, headers)
  if (top.status !== 200) throw new Error(`mirror: /packages.json answered ${top.status}`)
  save('packages.json', top.body)
  const names = JSON.parse(top.body)['available-packages'] ?? []
  const p2Paths = []
  let bytes = top.body.length
  let dev = 0
  for (const name of names) {
    for (const suffix of ['', '~dev']) {
      const p = `/p2/${name}${suffix}.json`
      const r = await get(`${packyardUrl}${p}`, headers)
      if (r.status === 200) {
        save(p.slice(1), r.body)
        bytes += r.body.length
        if (suffix === '') { if (name !== bigName) p2Paths.push(p) } else dev++
      } else if (suffix === '' || r.status !== 404) {
        throw new Error(`mirror: ${p} answered ${r.status}`)
      }
    }
  }
  // The big archive, downloaded with the key and stored at its dist URL's path.
  const bigDoc = JSON.parse(await get(`${packyardUrl}/p2/${bigName}.json`, headers).then((r) => r.body))
  const bigVersion = bigDoc.packages[bigName][0]
  const archivePath = new URL(bigVersion.dist.url).pathname
  const file = path.join(root, archivePath)
  mkdirSync(path.dirname(file), { recursive: true })
  const dl = await get(`${packyardUrl}${archivePath}`, { authorization: basic(auth) }, file)
  if (dl.status !== 200 || dl.sha1 !== bigVersion.dist.shasum) throw new Error(`mirror: archive ${archivePath}: HTTP ${dl.status}, sha1 ${dl.sha1} ≠ ${bigVersion.dist.shasum}`)
  return { names, p2Paths, dev, bytes, archivePath, archiveBytes: statSync(file).size, packagesJsonBytes: top.body.length }
}

const logSize = (f) => { try { return statSync(f).size } catch { return 0 } }

/**
 * Runs the comparison. `opts`: packages, versions, wrkSeconds, rounds, downloads, bigMiB,
 * composerPackages, warn (also measure Packyard at log level warn), log (progress printer).
 */
export async function benchVsNginx (opts) {
  const log = opts.log
  const haveNginx = which('nginx') !== null
  const haveWrk = which('wrk') !== null
  const haveComposer = which('composer') !== null && which('php') !== null
  const haveCurl = which('curl') !== null
  const missing = [['nginx', haveNginx], ['wrk', haveWrk], ['composer', haveComposer], ['curl', haveCurl]].filter(([, ok]) => !ok).map(([n]) => n)
  if (missing.length > 0) {
    console.log(`\n**Missing: ${missing.join(', ')}.** Install with \`apt-get install -y nginx wrk hyperfine curl composer php-cli\`; the parts that need them are skipped.\n`)
  }

  const work = tempDir('packyard-bench-')
  const dataDir = path.join(work, 'data')
  const result = { config: { ...opts, log: undefined }, setup: {}, measures: {}, rss: {}, notes: [] }

  // 1. Catalogue, published with the CLI, every package public.
  log(`setup: ${opts.packages} packages × ${opts.versions} versions, published with \`packyard publish\` (all public)`)
  const auth = await accountWithKey(dataDir, 'bench')
  const pub = await publishCatalogue(dataDir, work, {
    to: opts.packages,
    n: opts.packages,
    versions: opts.versions,
    access: 'public',
    batch: 500,
    onProgress: (c, t, s) => log(`  published ${c}/${t} (${(c / s).toFixed(0)} versions/s)`)
  })
  result.setup.publish = { versions: pub.versions, publishSeconds: pub.publishSeconds, zipGenerationSeconds: pub.genSeconds, versionsPerSecond: pub.versions / pub.publishSeconds }
  const bigName = 'benchbig/archive'
  const bigZip = await writeBigZip(work, bigName, opts.bigMiB)
  await cli(dataDir, ['publish', '--access', 'public', bigZip])

  // 2. Servers and the mirror.
  const [pPort, nPort, wPort, sPort] = [await freePort(), await freePort(), await freePort(), await freePort()]
  const pLog = path.join(work, 'packyard-info.log')
  const packyard = await startPackyard({ dataDir, port: pPort, level: 'info', logFile: pLog, auth })
  result.setup.packyardColdStartSeconds = packyard.coldStartSeconds
  const warn = opts.warn ? await startPackyard({ dataDir, port: wPort, level: 'warn', logFile: path.join(work, 'packyard-warn.log'), auth }) : undefined

  const root = path.join(work, 'static')
  const m = await mirror(packyard.url, `127.0.0.1:${nPort}`, auth, root, bigName)
  result.setup.transfer = await transferBytes(packyard.url, auth, m.p2Paths)
  log(`transfer for all ${result.setup.transfer.documents} metadata documents: ${result.setup.transfer.identity} bytes plain, ${result.setup.transfer.gzip} gzip, ${result.setup.transfer.br} brotli`)
  result.setup.mirror = { packages: m.names.length, p2Files: m.p2Paths.length, devFiles: m.dev, metadataBytes: m.bytes, packagesJsonBytes: m.packagesJsonBytes, archivePath: m.archivePath, archiveBytes: m.archiveBytes }
  log(`mirror: ${m.p2Paths.length} p2 files (+${m.dev} ~dev), ${(m.bytes / 1024 / 1024).toFixed(1)} MiB of metadata, archive ${m.archivePath}`)
  const nginx = haveNginx ? await startNginx({ dir: path.join(work, 'nginx'), root, port: nPort, auth }) : undefined
  // Secondary: the same nginx with a {SHA} htpasswd entry, to show how much of nginx's time is its apr1 check.
  const nginxSha = haveNginx && opts.sha ? await startNginx({ dir: path.join(work, 'nginx-sha'), root, port: sPort, auth, scheme: 'sha' }) : undefined

  // Same bytes from both? (p2 documents: Packyard answered for the nginx Host when mirroring.)
  const servers = [['packyard', packyard], ['nginx', nginx], ['packyard-warn', warn], ['nginx-sha', nginxSha]].filter(([, s]) => s !== undefined)
  // Composer and downloads: only the two headline servers.
  const headline = servers.filter(([n]) => n === 'packyard' || n === 'nginx')
  const wrkTargets = [['p2', m.p2Paths], ['packagesJson', ['/packages.json']]]
  // Counterbalanced order (A B C D, then D C B A, ...): no server always runs first in a round
  // or always right after the same neighbour.
  const inRound = (list, r) => r % 2 === 0 ? list : [...list].reverse()

  // Before any measure: the setup's writes (thousands of archives, the database, the static
  // mirror) are flushed to disk, so the kernel's writeback does not compete with the first
  // measured runs (without this, the first server measured was up to a third slower than later).
  execFileSync('sync')

  // 3a. wrk: random p2 documents, then /packages.json.
  if (haveWrk) {
    for (const [measure, paths] of wrkTargets) {
      const script = path.join(work, `wrk-${measure}.lua`)
      writeWrkScript(script, paths, auth)
      // One unmeasured run per server first (JIT, caches, connections), as for composer below.
      for (const [, s] of servers) {
        await wrk(s.url, script, { connections: 32, seconds: opts.warmupSeconds })
        if (s.logFile) truncateSync(s.logFile, 0)
      }
      const runs = {}
      for (let r = 0; r < opts.rounds; r++) {
        for (const [name, s] of inRound(servers, r)) {
          const logBefore = s.logFile ? logSize(s.logFile) : 0
          const w = await wrk(s.url, script, { connections: 32, seconds: opts.wrkSeconds })
          if (s.logFile) {
            w.logBytesPerReq = (logSize(s.logFile) - logBefore) / w.requests
            truncateSync(s.logFile, 0) // keep the disk from filling; the file is opened O_APPEND
          }
          ;(runs[name] ??= []).push(w)
          log(`  ${measure} round ${r + 1} ${name}: ${w.rps.toFixed(0)} req/s, p50 ${w.p50ms.toFixed(2)} ms, p99 ${w.p99ms.toFixed(2)} ms`)
        }
      }
      result.measures[measure] = runs
    }
  }

  // 3b. composer update --no-install, fresh cache every run.
  if (haveComposer) {
    const names = Array.from({ length: Math.min(opts.composerPackages, opts.packages) }, (_, i) => packageName(i))
    const runs = {}
    const locks = {}
    for (const [name, s] of headline) {
      const dir = path.join(work, `project-${name}`)
      writeProject(dir, s.url, names, auth)
      const warm = await composerUpdate(dir, work, name) // unmeasured: loads composer.phar and PHP into the page cache
      locks[name] = warm
    }
    if (locks.nginx !== undefined && locks.nginx.names.join() !== locks.packyard.names.join()) throw new Error('composer resolved different packages from nginx and Packyard')
    for (let r = 0; r < opts.composerRounds; r++) {
      for (const [name] of inRound(headline, r)) {
        const c = await composerUpdate(path.join(work, `project-${name}`), work, name)
        ;(runs[name] ??= []).push({ seconds: c.seconds, packages: c.packages })
        log(`  composer round ${r + 1} ${name}: ${c.seconds.toFixed(2)} s, ${c.packages} packages locked`)
      }
    }
    result.measures.composer = runs
    result.setup.composer = { required: names.length, locked: locks.packyard.packages }
  }

  // 3c. curl: the big archive.
  if (haveCurl) {
    const runs = {}
    for (let r = 0; r < opts.rounds; r++) {
      for (const [name, s] of inRound(headline, r)) {
        const speeds = await curlDownloads(`${s.url}${m.archivePath}`, auth, opts.downloads, m.archiveBytes)
        ;(runs[name] ??= []).push(...speeds.map((mibs) => ({ mibs })))
        log(`  archive round ${r + 1} ${name}: ${speeds.map((x) => x.toFixed(0)).join(', ')} MiB/s`)
      }
    }
    result.measures.archive = runs
  }

  // 3d. RSS after the load.
  result.rss.packyard = rssOf(packyard.pid)
  if (warn) result.rss['packyard-warn'] = rssOf(warn.pid)
  if (nginxSha) result.rss['nginx-sha'] = rssOf(nginxSha.pid) + childPids(nginxSha.pid).reduce((a, p) => a + rssOf(p), 0)
  if (nginx) {
    const workers = childPids(nginx.pid)
    result.rss.nginx = rssOf(nginx.pid) + workers.reduce((a, p) => a + rssOf(p), 0)
    result.rss.nginxWorker = workers.reduce((a, p) => a + rssOf(p), 0)
  }
  for (const [, s] of servers) await s.stop()
  result.notes.push(
    'Packyard runs `packyard serve` with PACKYARD_LOG_LEVEL=info (the default), logging to a file; nginx has access_log off, sendfile on, one worker.',
    'wrk and curl send no Accept-Encoding, so neither server compresses for them; Composer sends one, and Packyard answers it with gzip (nginx here has gzip off, as a static mirror of prebuilt files would unless it had .gz copies).',
    'nginx checks an apr1 (htpasswd default: 1,000 MD5 rounds) hash of the same key pair on every request; the "nginx {SHA}" column is the same server with a one-round SHA-1 entry, the cheapest hashed form nginx accepts (its /packages.json and p2 bytes are the same files, whose URLs name the apr1 server).',
    'The static p2 files are the exact bytes Packyard serves for the nginx host (fetched with Host: nginx) so the URLs inside point at nginx.'
  )
  return result
}

/** Summary rows: [measure, packyard, nginx, ratio, goal, verdict], plus warn rows when measured. */
export function summarize (result) {
  const rows = []
  const ms = result.measures
  const med = (runs, f) => runs === undefined ? undefined : median(runs.map(f))
  const add = (label, key, f, fmt, goal) => {
    const p = med(ms[key]?.packyard, f)
    const n = med(ms[key]?.nginx, f)
    const w = med(ms[key]?.['packyard-warn'], f)
    const sha = med(ms[key]?.['nginx-sha'], f)
    if (p === undefined) return
    const ratio = n === undefined ? undefined : p / n
    // Goals are judged against the faster nginx where both ran: the {SHA} entry for the
    // request rates (apr1 makes nginx slow), the default one for composer and archives.
    const best = sha === undefined || n === undefined ? n : (fmt === 'int' ? Math.max(n, sha) : Math.min(n, sha))
    const judged = best === undefined ? undefined : p / best
    let verdict = ''
    if (goal !== undefined && judged !== undefined) verdict = (goal.min !== undefined ? judged >= goal.min : judged <= goal.max) ? 'met' : 'MISSED'
    rows.push({ label, packyard: p, nginx: n, warn: w, sha, ratio, judged, ratioSha: sha === undefined ? undefined : p / sha, goal: goal === undefined ? '' : goal.min !== undefined ? `≥ ${goal.min}×` : `≤ ${goal.max}×`, verdict, fmt })
  }
  add('GET /p2/<pkg>.json (random), req/s', 'p2', (r) => r.rps, 'int', { min: 0.8 })
  add('GET /p2 p50 latency, ms', 'p2', (r) => r.p50ms, 'ms')
  add('GET /p2 p99 latency, ms', 'p2', (r) => r.p99ms, 'ms')
  add('GET /packages.json, req/s', 'packagesJson', (r) => r.rps, 'int', { min: 0.8 })
  add('GET /packages.json p50 latency, ms', 'packagesJson', (r) => r.p50ms, 'ms')
  add('GET /packages.json p99 latency, ms', 'packagesJson', (r) => r.p99ms, 'ms')
  add('composer update --no-install, s', 'composer', (r) => r.seconds, 's', { max: 1.05 })
  add('archive download (curl), MiB/s', 'archive', (r) => r.mibs, 'int', { min: 0.8 })
  if (result.rss.packyard !== undefined) {
    const p = result.rss.packyard / 1048576
    const n = result.rss.nginx === undefined ? undefined : result.rss.nginx / 1048576
    const mib = (v) => v === undefined ? undefined : v / 1048576
    rows.push({ label: 'server RSS after the load, MiB', packyard: p, nginx: n, warn: mib(result.rss['packyard-warn']), sha: mib(result.rss['nginx-sha']), ratio: n === undefined ? undefined : p / n, goal: '', verdict: '', fmt: 'mib' })
  }
  return rows
}
