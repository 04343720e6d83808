import t, { type Test } from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { basic, buildTestApp, cliJson, composerProject, startServer, tempDir, writePackageZip } from '../helpers/harness.js'
import { requireTools } from '../helpers/tools.js'
import type { ConfigInput } from '../../src/config.js'

interface Urls { metadataUrl: string, notifyBatch: string, search: string, dist: string }

/** An app with one public package and a key; returns the URLs a client sees with these headers. */
async function setup (t: Test, overrides: ConfigInput) {
  const { app } = await buildTestApp(t, overrides)
  const work = tempDir(t)
  const account = await app.ctx.accounts.create({ username: 'alice' })
  const issued = app.ctx.keys.create(account.id, 'ci')
  await app.ctx.catalog.publish(await writePackageZip(work, { name: 'acme/widget', version: '1.0.0' }), { access: 'public' })
  const auth = basic(issued.key.publicKey, issued.privateKey)
  const urls = async (headers: Record<string, string> = {}, opts: { remoteAddress?: string } = {}): Promise<Urls> => {
    const root = await app.inject({ url: '/packages.json', headers: { ...auth, ...headers }, ...opts })
    t.equal(root.statusCode, 200)
    const p2 = await app.inject({ url: '/p2/acme/widget.json', headers: { ...auth, ...headers }, ...opts })
    t.equal(p2.statusCode, 200)
    const doc = JSON.parse(root.body)
    return {
      metadataUrl: doc['metadata-url'],
      notifyBatch: doc['notify-batch'],
      search: doc.search,
      dist: JSON.parse(p2.body).packages['acme/widget'][0].dist.url
    }
  }
  return { app, auth, urls }
}

const FORWARDED = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'repo.example.org', 'x-forwarded-for': '203.0.113.9', 'x-forwarded-prefix': '/ignored' }

t.test('PACKYARD_PUBLIC_URL with a path prefix: every URL carries scheme, host and prefix; routes stay at /', async (t) => {
  const { app, auth, urls } = await setup(t, { publicUrl: 'https://packages.example.com/repo/' })
  t.same(await urls(), {
    metadataUrl: 'https://packages.example.com/repo/p2/%package%.json',
    notifyBatch: 'https://packages.example.com/repo/downloads/',
    search: 'https://packages.example.com/repo/search.json?q=%query%&type=%type%',
    dist: 'https://packages.example.com/repo/archives/acme/widget/acme-widget-1.0.0.0.zip'
  })
  t.equal((await urls(FORWARDED)).dist, 'https://packages.example.com/repo/archives/acme/widget/acme-widget-1.0.0.0.zip', 'the configured URL wins over forwarded headers')
  t.equal((await app.inject({ url: '/repo/packages.json', headers: auth })).statusCode, 404, 'the prefix is the proxy\'s: it strips it')
  t.equal((await app.inject({ url: '/archives/acme/widget/acme-widget-1.0.0.0.zip', headers: auth })).statusCode, 200)
})

t.test('PACKYARD_TRUST_PROXY=true: URLs follow X-Forwarded-Proto and X-Forwarded-Host (X-Forwarded-Prefix is not honoured)', async (t) => {
  const { urls } = await setup(t, { trustProxy: 'true' })
  t.same(await urls(FORWARDED), {
    metadataUrl: 'https://repo.example.org/p2/%package%.json',
    notifyBatch: 'https://repo.example.org/downloads/',
    search: 'https://repo.example.org/search.json?q=%query%&type=%type%',
    dist: 'https://repo.example.org/archives/acme/widget/acme-widget-1.0.0.0.zip'
  })
  t.equal((await urls({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'repo.example.org:8443' })).dist,
    'https://repo.example.org:8443/archives/acme/widget/acme-widget-1.0.0.0.zip', 'a port in X-Forwarded-Host is kept')
  t.equal((await urls({ 'x-forwarded-proto': 'http, https', 'x-forwarded-host': 'evil.example, repo.example.org' })).dist,
    'https://repo.example.org/archives/acme/widget/acme-widget-1.0.0.0.zip', 'with several proxies, the nearest one\'s value counts')
  t.equal((await urls()).dist, 'http://localhost:80/archives/acme/widget/acme-widget-1.0.0.0.zip', 'no forwarded headers: the request\'s own Host')
})

t.test('trust off (the default): forwarded headers are ignored', async (t) => {
  const { urls } = await setup(t, {})
  const seen = await urls(FORWARDED)
  t.equal(seen.dist, 'http://localhost:80/archives/acme/widget/acme-widget-1.0.0.0.zip')
  t.equal(seen.notifyBatch, 'http://localhost:80/downloads/')
  t.notMatch(JSON.stringify(seen), /example\.org|https/)
})

t.test('PACKYARD_TRUST_PROXY=<addresses>: only those proxies are believed', async (t) => {
  const { urls } = await setup(t, { trustProxy: '10.0.0.0/8, 192.0.2.1' })
  t.equal((await urls(FORWARDED, { remoteAddress: '10.1.2.3' })).dist, 'https://repo.example.org/archives/acme/widget/acme-widget-1.0.0.0.zip', 'from a trusted proxy')
  t.equal((await urls(FORWARDED, { remoteAddress: '198.51.100.7' })).dist, 'http://localhost:80/archives/acme/widget/acme-widget-1.0.0.0.zip', 'from anyone else')
})

t.test('bad proxy settings are refused at start-up', async (t) => {
  const { loadConfig } = await import('../../src/config.js')
  t.throws(() => loadConfig({ PACKYARD_TRUST_PROXY: 'sometimes' }), /invalid PACKYARD_TRUST_PROXY/)
  t.throws(() => loadConfig({ PACKYARD_PUBLIC_URL: 'packages.example.com' }), /invalid PACKYARD_PUBLIC_URL/)
  t.throws(() => loadConfig({ PACKYARD_PUBLIC_URL: 'ftp://packages.example.com' }), /use http or https/)
  t.equal(loadConfig({ PACKYARD_PUBLIC_URL: 'https://Packages.Example.com:443/repo//' }).publicUrl, 'https://packages.example.com/repo')
})

interface Proxy { url: string, seen: string[] }

/**
 * A reverse proxy like nginx's `location /prefix/ { proxy_pass http://upstream/; }`: strips
 * `prefix`, sends its own Host upstream and, when `forward` is set, X-Forwarded-Proto/-Host.
 */
function startProxy (t: Test, upstream: string, opts: { prefix?: string, forward?: boolean, port?: number }): Promise<Proxy> {
  const seen: string[] = []
  const target = new URL(upstream)
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/'
    seen.push(`${req.method} ${url}`)
    const prefix = opts.prefix ?? ''
    if (!url.startsWith(`${prefix}/`)) { res.writeHead(404).end(); return }
    const headers: http.OutgoingHttpHeaders = { ...req.headers, host: target.host }
    if (opts.forward === true) {
      headers['x-forwarded-proto'] = 'http'
      headers['x-forwarded-host'] = req.headers.host
      headers['x-forwarded-for'] = req.socket.remoteAddress
    }
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: url.slice(prefix.length), headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers)
      upRes.pipe(res)
    })
    up.on('error', () => { res.writeHead(502).end() })
    req.pipe(up)
  })
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => { resolve() }) }))
  return new Promise((resolve) => {
    server.listen(opts.port ?? 0, '127.0.0.1', () => { resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }) })
  })
}

async function publishFixture (t: Test) {
  const dataDir = tempDir(t)
  const work = tempDir(t)
  await cliJson(dataDir, ['account', 'create', 'alice'])
  const key = await cliJson(dataDir, ['key', 'create', 'alice', '--name', 'ci'])
  await cliJson(dataDir, ['publish', '--access', 'public', await writePackageZip(work, { name: 'acme/widget', version: '1.0.0' })])
  return { dataDir, key }
}

t.test('composer through a prefix-stripping proxy, with PACKYARD_PUBLIC_URL naming the prefix', async (t) => {
  if (!requireTools(t, 'composer', 'php', 'unzip')) return
  const { dataDir, key } = await publishFixture(t)
  // The public URL names the proxy, which only exists once it listens: reserve its port first.
  const placeholder = http.createServer()
  await new Promise<void>((resolve) => placeholder.listen(0, '127.0.0.1', resolve))
  const port = (placeholder.address() as AddressInfo).port
  await new Promise<void>((resolve) => placeholder.close(() => { resolve() }))
  const publicUrl = `http://127.0.0.1:${port}/repo`
  const server = await startServer(t, dataDir, { env: { PACKYARD_PUBLIC_URL: publicUrl } })
  const proxy = await startProxy(t, server.url, { prefix: '/repo', port })

  const project = composerProject(t, publicUrl, { require: { 'acme/widget': '^1.0' } })
  project.setAuth(key.publicKey, key.privateKey)
  const res = await project.run(['update'])
  t.equal(res.code, 0, 'composer update through the proxy', { output: res.output })
  t.ok(existsSync(path.join(project.dir, 'vendor/acme/widget/composer.json')))
  t.ok(proxy.seen.includes('GET /repo/packages.json'), 'packages.json through the proxy')
  t.ok(proxy.seen.includes('GET /repo/p2/acme/widget.json'), 'metadata-url carries the prefix')
  t.ok(proxy.seen.includes('GET /repo/archives/acme/widget/acme-widget-1.0.0.0.zip'), 'dist.url carries the prefix')
  t.ok(proxy.seen.includes('POST /repo/downloads/'), 'notify-batch carries the prefix')
  t.notOk(proxy.seen.some((s) => !s.includes(' /repo/')), `every request went to the prefix: ${proxy.seen.join(', ')}`)
})

t.test('composer through a proxy that sends X-Forwarded-*, with PACKYARD_TRUST_PROXY=true', async (t) => {
  if (!requireTools(t, 'composer', 'php', 'unzip')) return
  const { dataDir, key } = await publishFixture(t)
  const server = await startServer(t, dataDir, { env: { PACKYARD_TRUST_PROXY: 'true' } })
  const proxy = await startProxy(t, server.url, { forward: true })
  const project = composerProject(t, proxy.url, { require: { 'acme/widget': '^1.0' } })
  project.setAuth(key.publicKey, key.privateKey)
  const res = await project.run(['update'])
  t.equal(res.code, 0, 'composer update through the proxy', { output: res.output })
  t.ok(proxy.seen.includes('GET /archives/acme/widget/acme-widget-1.0.0.0.zip'), 'the archive came through the proxy, not from the upstream port')
  t.ok(proxy.seen.includes('POST /downloads/'), 'notify-batch went through the proxy')
})
