// The scale point (--scale): a large catalogue published with the CLI in batches, then
// cold start, RSS and /packages.json latency for an account that sees `visible` packages
// (those are published public, the rest restricted; the account has no grants).
import path from 'node:path'
import { accountWithKey, packageName, publishCatalogue } from './catalogue.mjs'
import { freePort, rssOf, tempDir } from './procs.mjs'
import { basic, which, wrk, writeWrkScript } from './tools.mjs'
import { median, startPackyard } from './vs-nginx.mjs'

export async function benchScale ({ packages, versions, visible, wrkSeconds, batch = 1000, log }) {
  const work = tempDir('packyard-bench-scale-')
  const dataDir = path.join(work, 'data')
  const auth = await accountWithKey(dataDir, 'scale')
  const result = { packages, versions, visible }
  log(`scale: publishing ${packages} packages × ${versions} versions (${Math.min(visible, packages)} public, the rest restricted), ${batch} archives per \`packyard publish\``)
  const started = Date.now()
  const progress = (offset) => (c, t, s) => log(`  published ${offset + c}/${packages * versions} (${(c / s).toFixed(0)} versions/s in this part, ${Math.round((Date.now() - started) / 1000)} s so far)`)
  const a = await publishCatalogue(dataDir, work, { from: 0, to: Math.min(visible, packages), n: packages, versions, access: 'public', batch, onProgress: progress(0) })
  const b = visible < packages
    ? await publishCatalogue(dataDir, work, { from: visible, to: packages, n: packages, versions, access: 'restricted', batch, onProgress: progress(a.versions) })
    : { versions: 0, publishSeconds: 0, genSeconds: 0 }
  result.publishedVersions = a.versions + b.versions
  result.publishSeconds = a.publishSeconds + b.publishSeconds
  result.zipGenerationSeconds = a.genSeconds + b.genSeconds
  result.versionsPerSecond = result.publishedVersions / result.publishSeconds

  // Cold start: spawn to the first 200 on /packages.json (which also runs the list query once).
  const starts = []
  let server
  for (let k = 0; k < 3; k++) {
    server = await startPackyard({ dataDir, port: await freePort(), level: 'info', logFile: path.join(work, 'serve.log'), auth })
    starts.push(server.coldStartSeconds)
    if (k < 2) await server.stop()
  }
  result.coldStartSeconds = starts
  result.rssIdleBytes = rssOf(server.pid)
  const headers = { authorization: basic(auth) }
  const doc = await (await fetch(`${server.url}/packages.json`, { headers })).json()
  result.packagesJsonVisible = (doc['available-packages'] ?? []).length
  // Unloaded latency: sequential requests from this process.
  const lat = []
  for (let k = 0; k < 200; k++) {
    const t = process.hrtime.bigint()
    const res = await fetch(`${server.url}/packages.json`, { headers })
    await res.arrayBuffer()
    if (res.status !== 200) throw new Error(`/packages.json answered ${res.status}`)
    lat.push(Number(process.hrtime.bigint() - t) / 1e6)
  }
  result.packagesJsonSequentialP50ms = median(lat)
  if (which('wrk') !== null) {
    const script = path.join(work, 'wrk-packages.lua')
    writeWrkScript(script, ['/packages.json'], auth)
    const w = await wrk(server.url, script, { connections: 32, seconds: wrkSeconds })
    result.packagesJsonWrk = w
    result.rssAfterPackagesJsonBytes = rssOf(server.pid)
    // Then what a fleet of resolves asks most: random p2 documents of the packages it sees.
    const p2 = path.join(work, 'wrk-p2.lua')
    writeWrkScript(p2, Array.from({ length: Math.min(visible, packages) }, (_, i) => `/p2/${packageName(i)}.json`), auth)
    result.p2Wrk = await wrk(server.url, p2, { connections: 32, seconds: wrkSeconds })
  }
  result.rssAfterLoadBytes = rssOf(server.pid)
  await server.stop()
  return result
}
