import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream, existsSync, statSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import yazl from 'yazl'
import { basic, cliJson, startServer, tempDir, type ServerProcess } from '../helpers/harness.js'

const MiB = 1024 * 1024

/** A stored (uncompressed) zip with composer.json and `size` bytes of random data. */
async function writeBigPackage (dir: string, name: string, version: string, size: number): Promise<string> {
  const file = path.join(dir, `${name.replace('/', '-')}-${version}.zip`)
  const zip = new yazl.ZipFile()
  zip.addBuffer(Buffer.from(JSON.stringify({ name, version })), 'composer.json')
  let left = size
  const blob = new Readable({
    read () {
      const n = Math.min(left, 4 * MiB)
      left -= n
      this.push(n === 0 ? null : randomBytes(n))
    }
  })
  zip.addReadStream(blob, 'data/blob.bin', { compress: false, size })
  zip.end()
  await pipeline(zip.outputStream, createWriteStream(file))
  return file
}

function exitOf (server: ServerProcess): Promise<number | null> {
  if (server.child.exitCode !== null) return Promise.resolve(server.child.exitCode)
  return new Promise((resolve) => server.child.once('exit', (code) => { resolve(code) }))
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Download {
  response: http.IncomingMessage
  /** Resolves with the bytes' SHA-1 and count when the body ends, rejects if it is cut. */
  body: Promise<{ sha1: string, bytes: number }>
  /** Starts reading, `chunk` bytes at a time with a pause between. */
  resume: (throttle?: { every: number, pauseMs: number }) => void
}

/** GETs a URL and holds the body unread until resume(): the download stays in flight. */
function startDownload (url: string, headers: Record<string, string>, agent: http.Agent): Promise<Download> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent }, (response) => {
      response.pause()
      const hash = createHash('sha1')
      let bytes = 0
      let throttle: { every: number, pauseMs: number } | undefined
      let sincePause = 0
      const body = new Promise<{ sha1: string, bytes: number }>((resolve, reject) => {
        response.on('data', (chunk: Buffer) => {
          hash.update(chunk)
          bytes += chunk.length
          sincePause += chunk.length
          if (throttle !== undefined && sincePause >= throttle.every) {
            sincePause = 0
            response.pause()
            setTimeout(() => response.resume(), throttle.pauseMs)
          }
        })
        response.on('end', () => {
          if (response.complete) resolve({ sha1: hash.digest('hex'), bytes })
          else reject(new Error(`download cut after ${bytes} bytes`))
        })
        response.on('error', reject)
        response.on('aborted', () => reject(new Error(`download aborted after ${bytes} bytes`)))
      })
      body.catch(() => {})
      resolve({ response, body, resume: (th) => { throttle = th; response.resume() } })
    })
    req.on('error', reject)
  })
}

t.test('graceful shutdown', async (t) => {
  const dataDir = tempDir(t)
  const work = tempDir(t)
  await cliJson(dataDir, ['account', 'create', 'alice'])
  const key = await cliJson(dataDir, ['key', 'create', 'alice', '--name', 'ci'])
  const auth = basic(key.publicKey, key.privateKey)
  const size = 256 * MiB
  const zipFile = await writeBigPackage(work, 'acme/huge', '1.0.0', size)
  const zipSize = statSync(zipFile).size
  const [big] = await cliJson(dataDir, ['publish', '--access', 'public', zipFile])
  const distPath = `/archives/acme/huge/acme-huge-${big.versionNormalized}.zip`

  t.test('SIGTERM during a large download: the client gets every byte, the process exits 0', async (t) => {
    const server = await startServer(t, dataDir)
    const exited = exitOf(server)
    const agent = new http.Agent({ keepAlive: true })
    t.teardown(() => agent.destroy())

    // An idle keep-alive connection must not hold the shutdown up.
    const idle = await fetch(`${server.url}/healthz`)
    t.equal(idle.status, 200)
    await new Promise<void>((resolve, reject) => {
      http.get(`${server.url}/packages.json`, { headers: auth, agent }, (res) => { res.resume(); res.on('end', resolve) }).on('error', reject)
    })
    t.equal(Object.values(agent.freeSockets).flat().length, 1, 'a kept-alive socket sits idle')

    const download = await startDownload(server.url + distPath, auth, agent)
    t.equal(download.response.statusCode, 200)
    t.equal(Number(download.response.headers['content-length']), zipSize)
    t.equal(download.response.headers.connection, 'keep-alive', 'the download itself is on a keep-alive connection')

    const signalledAt = Date.now()
    server.child.kill('SIGTERM')
    await sleep(750)
    t.equal(server.child.exitCode, null, 'still running while the download is in flight')
    t.match(server.log(), /shutting down/)
    await t.rejects(fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(5000) }), 'no new connections are accepted')

    // Read slowly: the download goes on for seconds after the signal.
    download.resume({ every: 16 * MiB, pauseMs: 100 })
    const got = await download.body
    const finishedAt = Date.now()
    t.equal(got.bytes, zipSize, 'every byte arrived')
    t.equal(got.sha1, big.shasum, 'SHA-1 matches dist.shasum')
    t.ok(finishedAt - signalledAt > 1500, `the download outlived the signal by ${finishedAt - signalledAt} ms`)

    const code = await exited
    const exitedAfter = Date.now() - finishedAt
    t.equal(code, 0, 'exit code 0')
    t.ok(exitedAfter < 3000, `exited ${exitedAfter} ms after the last byte (keep-alive did not hold it up)`)
    t.match(server.log(), /shutdown complete/)
    // SQLite removes the -wal file when the last connection closes cleanly.
    t.notOk(existsSync(path.join(dataDir, 'packyard.sqlite-wal')), 'the database was closed')
  })

  t.test('SIGINT on an idle server with a kept-alive connection exits 0 at once', async (t) => {
    const server = await startServer(t, dataDir)
    const exited = exitOf(server)
    const agent = new http.Agent({ keepAlive: true })
    t.teardown(() => agent.destroy())
    await new Promise<void>((resolve, reject) => {
      http.get(`${server.url}/packages.json`, { headers: auth, agent }, (res) => { res.resume(); res.on('end', resolve) }).on('error', reject)
    })
    const start = Date.now()
    server.child.kill('SIGINT')
    t.equal(await exited, 0)
    t.ok(Date.now() - start < 2000, `exited in ${Date.now() - start} ms`)
  })

  t.test('the shutdown timeout bounds a stalled download: cut, database closed, exit 1', async (t) => {
    const server = await startServer(t, dataDir, { env: { PACKYARD_SHUTDOWN_TIMEOUT_MS: '1500' } })
    const exited = exitOf(server)
    const agent = new http.Agent({ keepAlive: false })
    t.teardown(() => agent.destroy())
    const download = await startDownload(server.url + distPath, auth, agent)
    const start = Date.now()
    server.child.kill('SIGTERM')
    const code = await exited
    const took = Date.now() - start
    t.equal(code, 1, 'exit code 1: connections were cut')
    t.ok(took >= 1400 && took < 5000, `exited after ${took} ms (timeout 1500 ms)`)
    t.match(server.log(), /timeout after 1500 ms/)
    t.match(server.log(), /shutdown complete/)
    t.notOk(existsSync(path.join(dataDir, 'packyard.sqlite-wal')), 'the database was closed all the same')
    download.resume()
    await t.rejects(download.body, 'the stalled client sees the cut')
  })
})
