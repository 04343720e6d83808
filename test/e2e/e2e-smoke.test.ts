import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { cliJson, composerProject, startServer, tempDir, writePackageZip } from '../helpers/harness.js'
import { requireTools } from '../helpers/tools.js'

t.test('composer require installs a package and its dependency', async (t) => {
  if (!requireTools(t, 'composer', 'php', 'unzip')) return
  const dataDir = tempDir(t)
  const work = tempDir(t)
  await cliJson(dataDir, ['account', 'create', 'alice'])
  const key = await cliJson(dataDir, ['key', 'create', 'alice', '--name', 'laptop'])
  const foo = await writePackageZip(work, { name: 'acme/foo', version: '1.0.0', autoload: { 'psr-4': { 'Acme\\Foo\\': 'src/' } } }, { files: { 'src/Foo.php': '<?php namespace Acme\\Foo; class Foo {}' } })
  const foo2 = await writePackageZip(work, { name: 'acme/foo', version: '1.1.0', autoload: { 'psr-4': { 'Acme\\Foo\\': 'src/' } } }, { files: { 'src/Foo.php': '<?php namespace Acme\\Foo; class Foo {}' } })
  const bar = await writePackageZip(work, { name: 'acme/bar', version: '2.4.6-p3', require: { 'acme/foo': '^1.0' } }, { prefix: 'acme-bar-abc123' })
  const published = await cliJson(dataDir, ['publish', '--access', 'public', foo, foo2, bar])
  t.equal(published.length, 3)
  const server = await startServer(t, dataDir)
  const project = composerProject(t, server.url, { require: { 'acme/bar': '~2.4.6' } })
  project.setAuth(key.publicKey, key.privateKey)
  const res = await project.run(['update'])
  t.equal(res.code, 0, res.output)
  const lock = JSON.parse(readFileSync(path.join(project.dir, 'composer.lock'), 'utf8'))
  t.same(lock.packages.map((p: { name: string, version: string }) => `${p.name}@${p.version}`).sort(), ['acme/bar@2.4.6-p3', 'acme/foo@1.1.0'])
  t.ok(existsSync(path.join(project.dir, 'vendor/acme/foo/src/Foo.php')))
  t.notMatch(await server.settledLog(), key.privateKey)
})
