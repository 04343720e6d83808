import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { cliJson, cliJsonQuick, composerProject, makeZip, startServer, tempDir, type ServerProcess } from '../helpers/harness.js'
import { requireTools } from '../helpers/tools.js'

/*
 * Publishing over HTTP with real curl against a real `packyard serve`, then the real
 * Composer installing what was uploaded. `composer push` (elendev/composer-push, type
 * nexus) cannot be installed here (no packagist.org), so its requests are sent exactly as
 * it sends them: PUT <url>/packages/upload/<name>/<version> with HTTP Basic
 * (username:token), the zip as a multipart field `package` (Content-Type application/zip)
 * followed by src-type, src-url and src-ref when those are configured, or else the zip
 * as the raw body (the plugin's Guzzle labels it application/zip; other clients may send no
 * Content-Type or another one, which Packyard accepts too).
 */

process.env.COLUMNS = '1000'

const MAX = 64 * 1024
const BOUNDARY = '----packyard-e2e-boundary'

interface Curl { status: number, body: string, json: () => any }

/** Runs curl; the status comes from --write-out after the body. */
function curl (args: string[]): Promise<Curl> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-sS', '-w', '\n%{http_code}', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString() })
    child.stderr.on('data', (c: Buffer) => { err += c.toString() })
    child.on('error', reject)
    child.on('close', (code) => {
      if (code !== 0) { reject(new Error(`curl ${args.join(' ')} exited ${code}: ${err}`)); return }
      const cut = out.lastIndexOf('\n')
      const body = out.slice(0, cut)
      resolve({ status: Number(out.slice(cut + 1)), body, json: () => JSON.parse(body) })
    })
  })
}

function namespaceOf (name: string): string {
  return name.split('/').map((part) => part.split(/[-_.]/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('')).join('\\')
}

/** A real archive with a VERSION file (what the test expects Composer to install) and an autoloaded class. */
async function packageZip (dir: string, name: string, opts: { version?: string, marker: string, extra?: Record<string, Buffer> }): Promise<string> {
  const ns = namespaceOf(name)
  const file = path.join(dir, `${name.replace('/', '-')}-${opts.marker}.zip`)
  writeFileSync(file, await makeZip({
    'composer.json': JSON.stringify({ name, description: 'uploaded over HTTP', ...(opts.version === undefined ? {} : { version: opts.version }), autoload: { 'psr-4': { [`${ns}\\`]: 'src/' } } }),
    VERSION: opts.marker,
    'src/Info.php': `<?php\nnamespace ${ns};\n\nfinal class Info {}\n`,
    ...opts.extra
  }))
  return file
}

async function setup (t: Test) {
  const dataDir = tempDir(t)
  const zips = tempDir(t, 'packyard-zips-')
  const server = await startServer(t, dataDir, { env: { PACKYARD_MAX_UPLOAD_BYTES: String(MAX) } })
  const admin = (await cliJsonQuick(dataDir, ['api-token', 'create', 'ops', '--scope', 'admin'])).token as string
  const ci = (await cliJsonQuick(dataDir, ['api-token', 'create', 'acme-ci', '--scope', 'publish', '--package', 'acme/*'])).token as string
  const published = async (): Promise<string[]> => (await cliJson(dataDir, ['package', 'list'])).map((p: { name: string, versions: string[] }) => `${p.name} ${p.versions.join(',')}`)
  const uploadsLeft = () => readdirSync(path.join(dataDir, 'uploads'))
  return { dataDir, zips, server, admin, ci, published, uploadsLeft }
}

async function expectNoTokenLogged (t: Test, server: ServerProcess, tokens: string[]): Promise<void> {
  const serverLog = await server.settledLog()
  t.equal(tokens.filter((tk) => serverLog.includes(tk)).length, 0, 'no API token appears in the server log')
}

t.test('composer push, emulated with curl: multipart and raw PUT, then composer installs it', async (t) => {
  if (!requireTools(t, 'curl', 'composer', 'php')) return
  const { dataDir, zips, server, ci, admin, published, uploadsLeft } = await setup(t)
  const upload = (nameVersion: string) => `${server.url}/api/packages/upload/${nameVersion}`

  // With src-type/src-url/src-ref configured: multipart; composer.json has no version, the URL has it.
  const v1 = await packageZip(zips, 'acme/widget', { marker: '1.0.0' })
  const pushed = await curl(['-X', 'PUT', '-u', `composer-push:${ci}`,
    '-F', `package=@${v1};type=application/zip`, '-F', 'src-type=git', '-F', 'src-url=https://git.example.test/acme/widget.git', '-F', 'src-ref=0123abcd',
    upload('acme/widget/1.0.0')])
  t.equal(pushed.status, 201, pushed.body)
  t.match(pushed.json(), { name: 'acme/widget', version: '1.0.0', versionNormalized: '1.0.0.0', shasum: /^[0-9a-f]{40}$/ })

  // Without them: the raw body, here with no Content-Type at all (curl -T sends none); the URL version wins.
  const v11 = await packageZip(zips, 'acme/widget', { version: '7.7.7', marker: '1.1.0' })
  const raw = await curl(['-u', `composer-push:${ci}`, '-T', v11, upload('acme/widget/1.1.0')])
  t.equal(raw.status, 201, raw.body)
  t.match(raw.json(), { version: '1.1.0' })
  const again = await curl(['-u', `composer-push:${ci}`, '-T', v11, upload('acme/widget/1.1.0')])
  t.equal(again.status, 200, 'the same bytes again are a no-op')
  t.same(again.json(), raw.json())
  const other = await packageZip(zips, 'acme/widget', { marker: 'changed' })
  const conflict = await curl(['-u', `composer-push:${ci}`, '-T', other, upload('acme/widget/1.1.0')])
  t.equal(conflict.status, 409)
  t.match(conflict.json(), { code: 'VERSION_CONFLICT' })
  const wrongName = await curl(['-u', `composer-push:${ci}`, '-T', other, upload('acme/gadget/1.0.0')])
  t.equal(wrongName.status, 400)
  t.match(wrongName.json(), { message: /the URL names acme\/gadget but the archive's composer.json names acme\/widget/ })
  const notZip = path.join(zips, 'not.zip')
  writeFileSync(notZip, 'not a zip at all')
  const bad = await curl(['-u', `composer-push:${ci}`, '-T', notZip, upload('acme/widget/2.0.0')])
  t.equal(bad.status, 400)
  t.match(bad.json(), { code: 'INVALID_ARCHIVE', message: /not a valid zip archive/ })
  t.same(await published(), ['acme/widget 1.1.0,1.0.0'], 'only the two accepted uploads were published')
  t.same(uploadsLeft(), [])
  t.match(await server.settledLog(), /"apiToken":"acme-ci","package":"acme\/widget","version":"1.0.0"[^\n]*"src-ref":"0123abcd"[^\n]*package published over HTTP/)

  // The real Composer installs what was uploaded, once the account has a grant (new packages are restricted).
  await cliJsonQuick(dataDir, ['account', 'create', 'alice'])
  const key = await cliJsonQuick(dataDir, ['key', 'create', 'alice', '--name', 'laptop'])
  await cliJsonQuick(dataDir, ['grant', 'alice', 'acme/widget'])
  const project = composerProject(t, server.url, { require: { 'acme/widget': '^1.0' } })
  project.setAuth(key.publicKey, key.privateKey)
  const res = await project.run(['update'])
  t.equal(res.code, 0, res.output)
  t.equal(readFileSync(path.join(project.dir, 'vendor/acme/widget/VERSION'), 'utf8'), '1.1.0', 'composer installed the uploaded 1.1.0 archive')

  // An API token is no Composer credential.
  const tokenAsKey = composerProject(t, server.url, { require: { 'acme/widget': '^1.0' } })
  tokenAsKey.setAuth('composer-push', ci)
  const denied = await tokenAsKey.run(['update'])
  t.not(denied.code, 0)
  t.match(denied.output, /HTTP 401/)
  t.notOk(existsSync(path.join(tokenAsKey.dir, 'vendor/acme/widget')))
  await expectNoTokenLogged(t, server, [ci, admin])
})

t.test('POST /api/v1/packages with curl: raw zip, ?version=, Bearer', async (t) => {
  if (!requireTools(t, 'curl')) return
  const { zips, server, ci, published } = await setup(t)
  const zip = await packageZip(zips, 'acme/tool', { version: '2.0.0', marker: '2.0.0' })
  const post = (query = '', file = zip) => curl(['-H', `Authorization: Bearer ${ci}`, '-H', 'Content-Type: application/zip', '--data-binary', `@${file}`, `${server.url}/api/v1/packages${query}`])
  const created = await post()
  t.equal(created.status, 201, created.body)
  t.match(created.json(), { name: 'acme/tool', version: '2.0.0' })
  t.equal((await post()).status, 200)
  const override = await post('?version=2.1.0')
  t.equal(override.status, 201)
  t.match(override.json(), { version: '2.1.0', versionNormalized: '2.1.0.0' })
  const changed = await packageZip(zips, 'acme/tool', { version: '2.0.0', marker: 'changed' })
  t.equal((await post('', changed)).status, 409)
  t.same(await published(), ['acme/tool 2.1.0,2.0.0'])
})

t.test('refusals with curl: 401, 403, 413, malformed multipart; the server keeps serving and nothing is published', async (t) => {
  if (!requireTools(t, 'curl')) return
  const { dataDir, zips, server, ci, admin, published, uploadsLeft } = await setup(t)
  const url = `${server.url}/api/packages/upload/acme/lib/1.0.0`
  const small = await packageZip(zips, 'acme/lib', { marker: 'small' })
  const big = await packageZip(zips, 'acme/lib', { marker: 'big', extra: { 'blob.bin': randomBytes(MAX * 2) } })
  const valid = async (label: string): Promise<void> => {
    const r = await curl(['-u', `x:${admin}`, '-H', 'Content-Type: application/zip', '--data-binary', `@${small}`, `${server.url}/api/v1/packages?version=0.0.1`])
    t.ok(r.status === 201 || r.status === 200, `after ${label}, a valid request still works (${r.status} ${r.body})`)
  }

  const none = await curl(['-i', '-T', small, url])
  t.match(none.body, /^HTTP\/1\.1 401 /m)
  t.match(none.body, /\r\nwww-authenticate: Bearer realm="Packyard"\r\n/i)
  t.match(none.body, /"code":"UNAUTHORIZED"/)
  t.equal((await curl(['-u', 'x:pyk_' + 'f'.repeat(40), '-T', small, url])).status, 401)
  const spare = (await cliJsonQuick(dataDir, ['api-token', 'create', 'spare', '--scope', 'publish'])).token as string
  await cliJsonQuick(dataDir, ['api-token', 'revoke', 'spare'])
  t.equal((await curl(['-H', `Authorization: Bearer ${spare}`, '-T', small, url])).status, 401, 'revoked')
  t.equal((await curl(['-u', `x:${ci}`, `${server.url}/packages.json`])).status, 401, 'an API token does not open the Composer repository')
  await valid('401s')

  const outside = await packageZip(zips, 'other/lib', { marker: 'x' })
  const forbidden = await curl(['-u', `x:${ci}`, '-F', `package=@${outside}`, '-X', 'PUT', `${server.url}/api/packages/upload/other/lib/1.0.0`])
  t.equal(forbidden.status, 403)
  t.match(forbidden.json(), { message: 'API token "acme-ci" may publish only acme/*; not other/lib' })
  await valid('403')

  for (const [label, args] of [
    ['raw PUT over the limit', ['-T', big, url]],
    ['chunked PUT over the limit', ['-H', 'Transfer-Encoding: chunked', '-T', big, url]],
    ['multipart PUT over the limit', ['-X', 'PUT', '-F', `package=@${big}`, url]],
    ['raw POST over the limit', ['-H', 'Content-Type: application/zip', '--data-binary', `@${big}`, `${server.url}/api/v1/packages?version=1.0.0`]]
  ] as const) {
    const r = await curl(['-u', `x:${ci}`, ...args])
    t.equal(r.status, 413, label)
    t.match(r.json(), { code: 'PAYLOAD_TOO_LARGE', message: new RegExp(`\\(${MAX} bytes, PACKYARD_MAX_UPLOAD_BYTES\\)`) }, label)
    t.same(uploadsLeft(), [], `${label}: the temp file was removed`)
    await valid(label)
  }

  // A multipart body that breaks off inside the file (no closing boundary).
  const form = Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="package"; filename="lib.zip"\r\nContent-Type: application/zip\r\n\r\n`),
    readFileSync(small)
  ])
  const truncated = path.join(zips, 'truncated.form')
  writeFileSync(truncated, form.subarray(0, form.length - 100))
  const cut = await curl(['-u', `x:${ci}`, '-X', 'PUT', '-H', `Content-Type: multipart/form-data; boundary=${BOUNDARY}`, '--data-binary', `@${truncated}`, url])
  t.equal(cut.status, 400)
  t.match(cut.json(), { code: 'BAD_REQUEST', message: /malformed multipart body/ })
  await valid('a truncated multipart body')

  t.same(await published(), ['acme/lib 0.0.1'], 'no refused upload published anything')
  t.same(uploadsLeft(), [])
  const good = await curl(['-u', `x:${ci}`, '-X', 'PUT', '-F', `package=@${small}`, url])
  t.equal(good.status, 201, 'the refused upload succeeds once it is right')
  await expectNoTokenLogged(t, server, [ci, admin, spare])
})
