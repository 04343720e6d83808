import t, { type Test } from 'tap'
import { copyFileSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { cliJson, composerProject, startServer, tempDir, writePackageZip, type ComposerProject, type ServerProcess } from '../helpers/harness.js'
import { requireTools } from '../helpers/tools.js'

/*
 * Licence-shaped grants, advisories, yank and abandon with the real Composer against a real
 * `packyard serve`. Every Composer run uses a fresh project (own COMPOSER_HOME and cache).
 */

interface Key { publicKey: string, privateKey: string }

// One line per Composer message (it wraps at the terminal width otherwise).
process.env.COLUMNS = '1000'

const dataDir = tempDir(t)
const zipDir = tempDir(t)

function packageZip (name: string, version: string): Promise<string> {
  return writePackageZip(zipDir, { name, version, description: `${name} for the licence tests` }, { files: { VERSION: version } })
}

async function publish (name: string, version: string, access: 'public' | 'restricted' = 'restricted'): Promise<void> {
  await cliJson(dataDir, ['publish', '--access', access, await packageZip(name, version)])
}

function project (t: Test, server: ServerProcess, key: Key, require: Record<string, string>, minimumStability?: string): ComposerProject {
  const p = composerProject(t, server.url, { require, ...(minimumStability === undefined ? {} : { minimumStability }) })
  p.setAuth(key.publicKey, key.privateKey)
  return p
}

function locked (p: ComposerProject): Record<string, string> {
  const lock = JSON.parse(readFileSync(path.join(p.dir, 'composer.lock'), 'utf8')) as { packages: Array<{ name: string, version: string }> }
  return Object.fromEntries(lock.packages.map((l) => [l.name, l.version]))
}

t.test('licences, advisories, yank and abandon with the real Composer', async (t) => {
  if (!requireTools(t, 'composer', 'php', 'unzip')) return
  await cliJson(dataDir, ['account', 'create', 'licensee'])
  const key = await cliJson(dataDir, ['key', 'create', 'licensee', '--name', 'ci']) as Key
  const admin = (await cliJson(dataDir, ['api-token', 'create', 'e2e-admin', '--scope', 'admin'])).token as string
  for (const v of ['1.0.0', '1.2.0', '2.0.0']) await publish('lic/caret', v)
  await publish('lic/until', '1.0.0')
  await sleep(50)
  const between = new Date().toISOString()
  await sleep(50)
  await publish('lic/until', '1.1.0')
  for (const v of ['1.0.0', '1.1.0-beta1']) await publish('lic/stable', v)
  await cliJson(dataDir, ['grant', 'licensee', 'lic/caret', '--constraint', '^1.0'])
  await cliJson(dataDir, ['grant', 'licensee', 'lic/until', '--updates-until', between])
  await cliJson(dataDir, ['grant', 'licensee', 'lic/stable', '--minimum-stability', 'stable'])
  const server = await startServer(t, dataDir)
  const api = async (method: string, url: string, body?: unknown): Promise<Response> =>
    await fetch(`${server.url}/api/v1/admin${url}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })

  const p = project(t, server, key, { 'lic/caret': '*', 'lic/until': '*', 'lic/stable': '*' }, 'beta')
  const update = await p.run(['update'])
  t.equal(update.code, 0, update.output)
  t.same(locked(p), { 'lic/caret': '1.2.0', 'lic/until': '1.0.0', 'lic/stable': '1.0.0' }, 'the newest version each licence allows')
  const show = await p.run(['show', '--all', 'lic/caret'], { noProgress: false })
  t.match(show.output, /versions : \* 1\.2\.0, 1\.0\.0\n/, 'Composer never sees 2.0.0')
  const outside = project(t, server, key, { 'lic/caret': '^2.0' })
  const refused = await outside.run(['update'])
  t.not(refused.code, 0)
  t.match(refused.output, /lic\/caret/)

  const auth = `Basic ${Buffer.from(`${key.publicKey}:${key.privateKey}`).toString('base64')}`
  const archive = await fetch(`${server.url}/archives/lic/caret/lic-caret-2.0.0.0.zip`, { headers: { authorization: auth } })
  t.equal(archive.status, 403)
  t.match(await archive.text(), /does not include version 2\.0\.0/)

  await t.test('composer audit reports an advisory added through the API, and stops after its removal', async (t) => {
    const added = await api('POST', '/advisories', { package: 'lic/caret', affectedVersions: '>=1.0,<1.3', title: 'Remote code execution in the widget', cve: 'CVE-2030-4242', severity: 'critical' })
    t.equal(added.status, 201)
    const { advisoryId } = await added.json() as { advisoryId: string }
    const audit = await p.run(['audit'], { noProgress: false })
    t.not(audit.code, 0, 'exits non-zero with an affected package')
    t.match(audit.output, /Remote code execution in the widget/)
    t.match(audit.output, /CVE-2030-4242/)
    t.equal((await api('DELETE', `/advisories/${advisoryId}`)).status, 204)
    const clean = await p.run(['audit'], { noProgress: false })
    t.equal(clean.code, 0, clean.output)
    t.match(clean.output, /No security vulnerability advisories found/)
  })

  await t.test('a yanked version is not picked by update, but a lock file still installs it', async (t) => {
    for (const v of ['1.0.0', '1.1.0']) await publish('lic/yank', v, 'public')
    const first = project(t, server, key, { 'lic/yank': '^1.0' })
    t.equal((await first.run(['update'])).code, 0)
    t.equal(locked(first)['lic/yank'], '1.1.0')
    const yank = await api('POST', '/packages/lic/yank/versions/1.1.0/yank')
    t.equal(yank.status, 200)

    const fresh = project(t, server, key, { 'lic/yank': '^1.0' })
    const update = await fresh.run(['update'])
    t.equal(update.code, 0, update.output)
    t.equal(locked(fresh)['lic/yank'], '1.0.0', 'a new resolve skips the yanked version')

    const fromLock = project(t, server, key, { 'lic/yank': '^1.0' })
    copyFileSync(path.join(first.dir, 'composer.lock'), path.join(fromLock.dir, 'composer.lock'))
    const install = await fromLock.run(['install'])
    t.equal(install.code, 0, install.output)
    t.equal(readFileSync(path.join(fromLock.dir, 'vendor/lic/yank/VERSION'), 'utf8'), '1.1.0', 'downloaded from the lock file')
  })

  await t.test('an abandoned package makes Composer warn and name the replacement', async (t) => {
    await publish('lic/old', '1.0.0', 'public')
    const patch = await api('PATCH', '/packages/lic/old', { abandoned: 'lic/new' })
    t.equal(patch.status, 200)
    const p = project(t, server, key, { 'lic/old': '^1.0' })
    const update = await p.run(['update'])
    t.equal(update.code, 0, update.output)
    t.match(update.output, /Package lic\/old is abandoned, you should avoid using it\. Use lic\/new instead\./)
  })
})
