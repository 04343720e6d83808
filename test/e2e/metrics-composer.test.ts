import t from 'tap'
import { cliJson, composerProject, startServer, tempDir, writePackageZip } from '../helpers/harness.js'
import { sample } from '../helpers/util.js'
import { requireTools } from '../helpers/tools.js'

t.test('after a real composer install, /metrics shows the run', async (t) => {
  if (!requireTools(t, 'composer', 'php', 'unzip')) return
  const dataDir = tempDir(t)
  const work = tempDir(t)
  await cliJson(dataDir, ['account', 'create', 'alice'])
  const key = await cliJson(dataDir, ['key', 'create', 'alice', '--name', 'ci'])
  await cliJson(dataDir, ['publish', '--access', 'public', await writePackageZip(work, { name: 'acme/gadget', version: '1.2.0' })])
  await cliJson(dataDir, ['publish', await writePackageZip(work, { name: 'acme/secret', version: '1.0.0' })])
  const server = await startServer(t, dataDir)

  const denied = composerProject(t, server.url, { require: { 'acme/gadget': '^1.0' } })
  denied.setAuth(key.publicKey, 'x'.repeat(32))
  t.not((await denied.run(['update'])).code, 0, 'a wrong private key fails')

  const project = composerProject(t, server.url, { require: { 'acme/gadget': '^1.0' } })
  project.setAuth(key.publicKey, key.privateKey)
  const res = await project.run(['update'])
  t.equal(res.code, 0, res.output)

  const text = await (await fetch(`${server.url}/metrics`)).text()
  t.equal(sample(text, 'packyard_archive_downloads_total', { package: 'acme/gadget' }), 1)
  t.equal(sample(text, 'packyard_archive_downloads_total', { package: 'acme/secret' }), undefined)
  t.ok((sample(text, 'packyard_auth_failures_total', { surface: 'composer', reason: 'wrong_secret' }) ?? 0) >= 1, 'the wrong key was counted')
  t.equal(sample(text, 'packyard_http_requests_total', { method: 'GET', route: '/archives/:vendor/:name/:file', status_code: '200' }), 1)
  t.equal(sample(text, 'packyard_http_requests_total', { method: 'POST', route: '/downloads/', status_code: '200' }), 1, 'notify-batch')
  t.ok((sample(text, 'packyard_http_requests_total', { method: 'GET', route: '/p2/:vendor/:file', status_code: '200' }) ?? 0) >= 1)
  t.ok((sample(text, 'process_resident_memory_bytes', {}) ?? 0) > 0)
})
