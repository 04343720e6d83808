// Metadata hot path: GET /p2/<pkg>.json and GET /packages.json through the real app,
// against (a) a server that rebuilds the p2 document on every request and (b) a bare
// node:http floor that answers the same bytes from memory with no auth.
import http from 'node:http'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import fastifyBasicAuth from '@fastify/basic-auth'
import { buildApp } from '../../dist/app.js'
import { createContext } from '../../dist/context.js'
import { loadConfig } from '../../dist/config.js'
import { loggerOptions } from '../../dist/logger.js'
import { buildPackageMetadata, withBaseUrl } from '../../dist/composer/metadata.js'
import { basicHeader, composerJson, fmt, header, makeZip, SCALE, table, tempDir } from './lib.mjs'

const PACKAGES = 50
const VERSIONS = 20
const CONNECTIONS = 20
// Two interleaved rounds of 4 s per server, best round kept: a burst of load from another
// process on the machine then hurts one round of one server, not the comparison.
const ROUNDS = 2
const DURATION_S = Math.max(2, Math.round(4 * SCALE))
const WARMUP_S = 1

// pino still serialises every line; only the write is dropped (the same for every Fastify server here).
const nullStream = { write () { return true } }

const LOAD_GENERATOR = fileURLToPath(new URL('./load-generator.mjs', import.meta.url))

/** Runs autocannon in a child process; resolves with its summary. */
function load (url, duration, headers, requests) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOAD_GENERATOR], { stdio: ['pipe', 'pipe', 'inherit'] })
    let out = ''
    const guard = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('load generator overran its time')) }, (duration + 20) * 1000)
    child.stdout.on('data', (c) => { out += c })
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(guard)
      if (code === 0) resolve(JSON.parse(out))
      else reject(new Error(`load generator exited with ${code}`))
    })
    child.stdin.end(JSON.stringify({ url, connections: CONNECTIONS, duration, headers, requests }))
  })
}

/**
 * One measurement. Besides req/s, the CPU time this process (the server) spent per request:
 * far steadier than req/s when other work shares the machine.
 */
async function measure (url, headers, requests, warmUp) {
  if (warmUp) await load(url, WARMUP_S, headers, requests)
  const cpu = process.cpuUsage()
  const r = await load(url, DURATION_S, headers, requests)
  const used = process.cpuUsage(cpu)
  if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0) {
    throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`)
  }
  return { ...r, cpuUsPerReq: (used.user + used.system) / r.total }
}

async function publishDataset (ctx, dir) {
  const names = []
  for (let p = 0; p < PACKAGES; p++) {
    const name = `bench/package-${String(p).padStart(2, '0')}`
    names.push(name)
    // Half public, half restricted with a grant: both visibility paths are exercised.
    const access = p % 2 === 0 ? 'public' : 'restricted'
    for (let v = 0; v < VERSIONS; v++) {
      const version = `${1 + Math.floor(v / 10)}.${v % 10}.${p % 3}`
      const file = path.join(dir, `${name.replace('/', '-')}-${version}.zip`)
      writeFileSync(file, await makeZip({
        'composer.json': JSON.stringify(composerJson(name, version, v), null, 2),
        'src/Example.php': `<?php\nnamespace Bench;\nfinal class Example { public const VERSION = '${version}'; }\n`
      }))
      await ctx.catalog.publish(file, { access })
    }
  }
  return names
}

// Request metrics are part of the product when dist has them (PACKYARD_METRICS, on by default).
const metricsModule = await import('../../dist/metrics.js').catch(() => undefined)

/**
 * The "rebuild per request" reference: the same logging, metrics hook, auth and queries as
 * the product, but the p2 document is built from the version rows on every request.
 */
async function rebuildServer (ctx, config) {
  const app = Fastify({ logger: { ...loggerOptions(config.logLevel), stream: nullStream } })
  if (metricsModule !== undefined && config.metricsEnabled !== false) {
    const metrics = metricsModule.createMetrics()
    metricsModule.observeHttp(app, metrics)
    app.addHook('onClose', async () => { metrics.close() })
  }
  await app.register(fastifyBasicAuth, {
    authenticate: { realm: config.realm },
    async validate (user, pass, request) {
      const result = ctx.keys.authenticate(user, pass)
      if (!result.ok) throw Object.assign(new Error('unauthorized'), { statusCode: 401 })
      request.principal = { accountId: result.accountId }
    }
  })
  app.addHook('onRequest', app.basicAuth)
  app.get('/p2/:vendor/:file', async (request, reply) => {
    const name = `${request.params.vendor}/${request.params.file.replace(/\.json$/, '')}`
    const pkg = ctx.repos.packages.findByName(name)
    if (pkg === undefined || !ctx.repos.packages.isVisible(pkg, request.principal.accountId)) return reply.code(404).send()
    const versions = ctx.repos.packages.versions(pkg.id).map((v) => ({ ...v, name }))
    const docs = buildPackageMetadata(name, versions)
    reply.header('last-modified', new Date(pkg.metadataUpdatedAt * 1000).toUTCString())
    reply.header('cache-control', 'private, no-cache')
    return reply.header('content-type', 'application/json').send(Buffer.from(withBaseUrl(docs.stable, `${request.protocol}://${request.host}`)))
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return app
}

/** The floor: a bare node:http server answering prepared bytes, no auth, no framework. */
function floorServer (bodies) {
  const server = http.createServer((req, res) => {
    const body = bodies.get(req.url)
    if (body === undefined) { res.writeHead(404).end(); return }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length })
    res.end(body)
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

/** Mean µs per call of fn, bounded by a count and a time. */
function microseconds (fn, maxIterations, maxMs) {
  for (let i = 0; i < 20; i++) fn()
  const start = process.hrtime.bigint()
  const deadline = start + BigInt(maxMs * 1e6)
  let n = 0
  while (n < maxIterations && process.hrtime.bigint() < deadline) { fn(); n++ }
  return Number(process.hrtime.bigint() - start) / 1e3 / n
}

/**
 * What one request costs inside the service as the catalogue grows: /packages.json lists
 * every visible package (cached per account until the catalogue revision moves); a p2
 * lookup is two indexed SELECTs and a memo hit.
 */
async function catalogueScaling (dir) {
  const ctx = createContext(loadConfig({}, { dataDir: path.join(dir, 'scaling'), logLevel: 'silent' }))
  try {
    const account = await ctx.accounts.create({ username: 'alice' })
    const file = path.join(dir, 'scaling-real.zip')
    writeFileSync(file, await makeZip({ 'composer.json': JSON.stringify(composerJson('bench/real', '1.0.0')) }))
    await ctx.catalog.publish(file, { access: 'public' })
    const base = 'http://127.0.0.1:8080'
    // Mirrors the /packages.json route: the visible names, then the JSON document.
    const rootDocument = () => JSON.stringify({
      packages: {},
      'metadata-url': `${base}/p2/%package%.json`,
      'notify-batch': `${base}/downloads/`,
      search: `${base}/search.json?q=%query%&type=%type%`,
      'available-packages': ctx.catalog.visibleNames(account.id)
    })
    const rows = []
    let count = 1
    for (const size of [50, 500, 5000]) {
      // Package rows straight through the repository: visibleNames reads only packages and grants.
      ctx.db.transaction(() => {
        for (; count < size; count++) {
          const pkg = ctx.repos.packages.insert(`vendor${count % 40}/package-${count}`, count % 2 === 0 ? 'public' : 'restricted', 0)
          if (count % 4 === 1) ctx.repos.packages.grant(account.id, pkg.id)
        }
      })()
      const rootUs = microseconds(rootDocument, 5000, 700)
      // The first request after a change (publish, access, grant, revoke) runs the query.
      const queryUs = microseconds(() => ctx.repos.packages.visibleNames(account.id), 2000, 700)
      const p2Us = microseconds(() => ctx.catalog.metadata(account.id, 'bench/real', false, base), 50_000, 300)
      rows.push([fmt.int(size), fmt.int(ctx.catalog.visibleNames(account.id).length), fmt.num(rootDocument().length / 1024), fmt.num(rootUs, 0), fmt.num(queryUs, 0), fmt.num(p2Us, 1)])
    }
    return rows
  } finally {
    ctx.close()
  }
}

const urlOf = (server) => `http://127.0.0.1:${server.address().port}`

async function main () {
  const tmp = tempDir()
  const closers = []
  try {
    const config = loadConfig({}, { dataDir: path.join(tmp.dir, 'data'), logLevel: 'info', lastUsedFlushMs: 30_000 })
    const app = await buildApp(config, { logStream: nullStream })
    closers.push(() => app.close())
    const ctx = app.ctx
    const alice = await ctx.accounts.create({ username: 'alice' })
    const { key, privateKey } = ctx.keys.create(alice.id, 'bench')
    const started = Date.now()
    const names = await publishDataset(ctx, tmp.dir)
    for (const name of names) if (ctx.catalog.get(name).access === 'restricted') ctx.catalog.grant(alice.id, name)
    const setupMs = Date.now() - started
    await app.listen({ host: '127.0.0.1', port: 0 })

    // The same app without request logging, and without request logging and metrics, to
    // show what each costs on the hot path.
    const quietApp = await buildApp({ ...config, logLevel: 'warn' }, { logStream: nullStream })
    closers.push(() => quietApp.close())
    await quietApp.listen({ host: '127.0.0.1', port: 0 })
    const bareApp = await buildApp({ ...config, logLevel: 'warn', metricsEnabled: false }, { logStream: nullStream })
    closers.push(() => bareApp.close())
    await bareApp.listen({ host: '127.0.0.1', port: 0 })

    const rebuild = await rebuildServer(ctx, config)
    closers.push(() => rebuild.close())

    const auth = { authorization: basicHeader(key.publicKey, privateKey) }
    const p2Requests = names.map((n) => ({ method: 'GET', path: `/p2/${n}.json` }))
    const rootRequests = [{ method: 'GET', path: '/packages.json' }]

    // Every server must answer the very same bytes, or the comparison means nothing.
    const bodies = new Map()
    for (const r of [...p2Requests, ...rootRequests]) {
      const res = await fetch(`${urlOf(app.server)}${r.path}`, { headers: auth })
      if (res.status !== 200) throw new Error(`${r.path}: ${res.status}`)
      bodies.set(r.path, Buffer.from(await res.arrayBuffer()))
    }
    const floor = await floorServer(bodies)
    closers.push(() => new Promise((resolve) => floor.close(resolve)))
    for (const r of p2Requests) {
      const rebuilt = Buffer.from(await (await fetch(`${urlOf(rebuild.server)}${r.path}`, { headers: auth })).arrayBuffer())
      // Base URLs differ only by port; compare with the port normalised.
      const norm = (b, server) => b.toString().replaceAll(urlOf(server), 'BASE')
      if (norm(rebuilt, rebuild.server) !== norm(bodies.get(r.path), app.server)) throw new Error(`rebuild server differs for ${r.path}`)
    }
    const p2Sizes = p2Requests.map((r) => bodies.get(r.path).length)
    const avgP2 = p2Sizes.reduce((a, b) => a + b, 0) / p2Sizes.length

    const metricsNote = metricsModule === undefined ? '' : ', metrics on'
    const runs = [
      ['p2', `Packyard: prebuilt p2 (defaults: log level info${metricsNote})`, urlOf(app.server), auth, p2Requests],
      ['p2', `Packyard: prebuilt p2, log level warn${metricsNote}`, urlOf(quietApp.server), auth, p2Requests],
      ['p2', 'Packyard: prebuilt p2, log level warn, metrics off', urlOf(bareApp.server), auth, p2Requests],
      ['p2', `Reference: rebuild p2 per request (log level info${metricsNote})`, urlOf(rebuild.server), auth, p2Requests],
      ['p2', 'Floor: node:http, bytes from memory, no auth', urlOf(floor), {}, p2Requests],
      ['root', `Packyard: /packages.json (defaults: log level info${metricsNote})`, urlOf(app.server), auth, rootRequests],
      ['root', 'Packyard: /packages.json, log level warn, metrics off', urlOf(bareApp.server), auth, rootRequests],
      ['root', 'Floor: node:http, bytes from memory, no auth', urlOf(floor), {}, rootRequests]
    ]
    const best = new Map()
    for (let round = 0; round < ROUNDS; round++) {
      for (const [group, label, url, headers, requests] of runs) {
        const r = await measure(url, headers, requests, round === 0)
        const key = `${group} ${label}`
        if (!best.has(key) || best.get(key).reqPerSec < r.reqPerSec) best.set(key, { group, label, ...r })
      }
    }
    const results = [...best.values()]

    header(`Metadata hot path (${PACKAGES} packages × ${VERSIONS} versions, ${CONNECTIONS} connections, best of ${ROUNDS} interleaved ${DURATION_S} s rounds after ${WARMUP_S} s warm-up)`)
    console.log(`Dataset published in ${fmt.int(setupMs)} ms; p2 documents average ${fmt.num(avgP2 / 1024)} KiB, /packages.json is ${bodies.get('/packages.json').length} B.`)
    console.log('The load generator (autocannon) is a separate process; latency has 1 ms resolution. ' +
      'Server CPU per request is this process\'s user + system time divided by the requests answered.\n')
    for (const group of ['p2', 'root']) {
      const rows = results.filter((r) => r.group === group)
      const base = rows[0].reqPerSec
      console.log(table(
        [group === 'p2' ? 'GET /p2/<package>.json (rotating over 50)' : 'GET /packages.json', 'req/s', 'mean ms', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'req/s vs Packyard defaults'],
        rows.map((r) => [r.label, fmt.int(r.reqPerSec), fmt.num(r.latencyMean, 2), String(r.p50), String(r.p99), fmt.int(r.cpuUsPerReq), fmt.ratio(r.reqPerSec / base)])
      ))
      console.log('')
    }
    console.log(table(
      ['packages in the catalogue (in-process, no HTTP)', 'visible to the account', '/packages.json KiB', 'µs to build /packages.json (cached list)', 'µs for the list query (first request after a change)', 'µs for a p2 metadata() lookup'],
      await catalogueScaling(tmp.dir)
    ))
  } finally {
    for (const close of closers.reverse()) await close()
    tmp.remove()
  }
}

await main()
