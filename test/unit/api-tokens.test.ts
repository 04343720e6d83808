import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { basic, buildTestApp, cliInProcess, cliJsonQuick, makeZip } from '../helpers/harness.js'
import { createApiAuth } from '../../src/routes/api-auth.js'
import { loadConfig } from '../../src/config.js'

type Json = Record<string, any>

const BOUNDARY = '----packyard-test-boundary'

function composer (name: string, version?: string): string {
  return JSON.stringify({ name, description: 'test package', ...(version === undefined ? {} : { version }), autoload: { 'psr-4': { 'Acme\\': 'src/' } } })
}

function zipOf (name: string, version?: string, extra: Record<string, Buffer | string> = {}): Promise<Buffer> {
  return makeZip({ 'composer.json': composer(name, version), 'src/Thing.php': '<?php namespace Acme; class Thing {}\n', ...extra })
}

/** A multipart/form-data body as composer-push sends it: the file in `package`, then text fields. */
function multipart (parts: Array<{ name: string, file?: Buffer, value?: string }>): Buffer {
  const chunks: Buffer[] = []
  for (const p of parts) {
    const disposition = p.file === undefined ? `form-data; name="${p.name}"` : `form-data; name="${p.name}"; filename="package.zip"`
    const type = p.file === undefined ? '' : 'Content-Type: application/zip\r\n'
    chunks.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n`), p.file ?? Buffer.from(p.value ?? ''), Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`))
  return Buffer.concat(chunks)
}
const MULTIPART = `multipart/form-data; boundary=${BOUNDARY}`

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

async function setup (t: Test, overrides = {}) {
  const built = await buildTestApp(t, overrides)
  const admin = (await cliJsonQuick(built.dataDir, ['api-token', 'create', 'root', '--scope', 'admin'])).token as string
  const ci = (await cliJsonQuick(built.dataDir, ['api-token', 'create', 'acme-ci', '--scope', 'publish', '--package', 'acme/*'])).token as string
  const published = () => built.app.ctx.catalog.list().map((p) => `${p.name} ${p.versions.join(',')} ${p.access}`)
  const uploadsLeft = () => readdirSync(path.join(built.dataDir, 'uploads'))
  return { ...built, admin, ci, published, uploadsLeft }
}

async function put (app: FastifyInstance, url: string, payload: Buffer | Readable, headers: Record<string, string>) {
  const res = await app.inject({ method: 'PUT', url, payload, headers })
  return { status: res.statusCode, headers: res.headers, json: (): Json => JSON.parse(res.body) }
}

async function post (app: FastifyInstance, url: string, payload: Buffer | Readable, headers: Record<string, string>) {
  const res = await app.inject({ method: 'POST', url, payload, headers })
  return { status: res.statusCode, headers: res.headers, json: (): Json => JSON.parse(res.body) }
}

t.test('api-token create, list and revoke through the CLI; only a hash is stored', async (t) => {
  const { dataDir, app } = await buildTestApp(t)
  const created = await cliJsonQuick(dataDir, ['api-token', 'create', 'deploy', '--scope', 'publish', '--package', 'acme/*', '--package', 'other/pro'])
  t.match(created, { name: 'deploy', scope: 'publish', packages: ['acme/*', 'other/pro'], token: /^pyk_[0-9a-f]{40}$/ })
  t.same(Object.keys(created).sort(), ['name', 'packages', 'scope', 'token'])
  const admin = await cliJsonQuick(dataDir, ['api-token', 'create', 'ops', '--scope', 'admin'])
  t.match(admin, { name: 'ops', scope: 'admin', packages: [] })
  t.not(admin.token, created.token)

  const human = await cliInProcess(dataDir, ['api-token', 'create', 'human', '--scope', 'publish'])
  t.equal(human.code, 0)
  t.match(human.stdout, /created API token "human" \(scope publish, any package\)\ntoken: pyk_[0-9a-f]{40}\n.*shown only now/)

  const list = await cliJsonQuick(dataDir, ['api-token', 'list'])
  t.same(list.map((x: Json) => [x.name, x.scope, x.packages, x.lastUsedAt]), [
    ['deploy', 'publish', ['acme/*', 'other/pro'], null], ['human', 'publish', [], null], ['ops', 'admin', [], null]
  ])
  t.ok(list.every((x: Json) => typeof x.createdAt === 'string' && !('token' in x)), 'a listing never shows a token')
  t.same(Object.keys(list[0]).sort(), ['createdAt', 'lastUsedAt', 'name', 'packages', 'scope'])

  await app.ctx.apiTokens.list() // the app's own connection sees the CLI's rows
  const db = readFileSync(path.join(dataDir, 'packyard.sqlite'))
  const wal = readFileSync(path.join(dataDir, 'packyard.sqlite-wal'))
  t.notOk(db.includes(created.token) || wal.includes(created.token), 'the token itself is not in the database')

  const duplicate = await cliInProcess(dataDir, ['api-token', 'create', 'DEPLOY', '--scope', 'admin'])
  t.equal(duplicate.code, 1)
  t.match(duplicate.stderr, /^packyard: an API token named "DEPLOY" already exists[^\n]*\n$/)
  for (const [args, message] of [
    [['--scope', 'root'], /Allowed choices are admin, publish/],
    [[], /required option '--scope <scope>' not specified/],
    [['--scope', 'publish', '--package', 'Acme/*'], /invalid package pattern "Acme\/\*": package names are lowercase/],
    [['--scope', 'publish', '--package', 'acme'], /invalid package pattern "acme": use vendor\/name \(acme\/widget\) or vendor\/\* \(acme\/\*\)/],
    [['--scope', 'publish', '--package', '*/*'], /invalid package pattern/],
    [['--scope', 'admin', '--package', 'acme/*'], /--package limits publish tokens/]
  ] as const) {
    const r = await cliInProcess(dataDir, ['api-token', 'create', 'bad', ...args])
    t.not(r.code, 0, args.join(' '))
    t.match(r.stderr, message)
    t.equal(r.stderr.split('\n').length, 2, 'one line')
  }
  t.not((await cliInProcess(dataDir, ['api-token', 'create', 'has space', '--scope', 'admin'])).code, 0)

  t.same(await cliJsonQuick(dataDir, ['api-token', 'revoke', 'deploy']), { name: 'deploy', revoked: true })
  t.same((await cliJsonQuick(dataDir, ['api-token', 'list'])).map((x: Json) => x.name), ['human', 'ops'])
  const again = await cliInProcess(dataDir, ['api-token', 'revoke', 'deploy'])
  t.equal(again.code, 1)
  t.match(again.stderr, /^packyard: API token "deploy" not found\n$/)
  t.match((await cliInProcess(dataDir, ['api-token', 'revoke', 'ops'])).stdout, /^revoked API token "ops"\n$/)

  const missing = path.join(dataDir, 'typo')
  const typo = await cliInProcess(missing, ['api-token', 'list'])
  t.equal(typo.code, 1)
  t.match(typo.stderr, /^packyard: no data directory at /, 'list only reads: a mistyped data directory is not created')
  t.notOk(existsSync(missing))
})

t.test('authentication: Bearer or Basic password; 401 for missing, wrong and revoked tokens', async (t) => {
  const { app, dataDir, admin, published, log } = await setup(t)
  const zip = await zipOf('acme/widget', '1.0.0')
  const url = '/api/packages/upload/acme/widget/1.0.0'

  const none = await put(app, url, zip, { 'content-type': 'application/zip' })
  t.equal(none.status, 401)
  t.equal(none.headers['www-authenticate'], 'Bearer realm="Packyard"')
  t.equal(none.headers['content-type'], 'application/json')
  t.match(none.json(), { code: 'UNAUTHORIZED', message: /API token required: send an API token as "Authorization: Bearer <token>", or as the password of HTTP Basic/ })

  for (const headers of [
    bearer('pyk_' + '0'.repeat(40)),
    bearer('not-a-token'),
    basic('anyone', 'pyk_' + '1'.repeat(40)),
    { authorization: 'Bearer' },
    { authorization: 'Digest abc' }
  ]) {
    const r = await put(app, url, zip, { 'content-type': 'application/zip', ...headers })
    t.equal(r.status, 401, headers.authorization)
    t.match(r.headers['www-authenticate'], /^Bearer realm=/)
    t.match(r.json(), { code: 'UNAUTHORIZED' })
  }
  t.same(published(), [], 'nothing was published')

  const ok = await put(app, url, zip, { 'content-type': 'application/zip', ...basic('whoever', admin) })
  t.equal(ok.status, 201, 'HTTP Basic: any username, the token as password')
  t.equal((await put(app, url, zip, { 'content-type': 'application/zip', ...bearer(admin) })).status, 200, 'Bearer')
  t.notOk(log().includes(admin), 'the token is never logged')

  const listed = await cliJsonQuick(dataDir, ['api-token', 'list'])
  t.match(listed.find((x: Json) => x.name === 'root'), { lastUsedAt: String })
  const firstUse = listed.find((x: Json) => x.name === 'root').lastUsedAt
  await put(app, url, zip, { 'content-type': 'application/zip', ...bearer(admin) })
  t.equal((await cliJsonQuick(dataDir, ['api-token', 'list'])).find((x: Json) => x.name === 'root').lastUsedAt, firstUse, 'written at most once a minute')

  await cliJsonQuick(dataDir, ['api-token', 'revoke', 'root'])
  const revoked = await put(app, url, zip, { 'content-type': 'application/zip', ...bearer(admin) })
  t.equal(revoked.status, 401, 'a revoked token stops working at once')
  t.match(revoked.json(), { message: 'Invalid or revoked API token.' })
})

t.test('API tokens never open the Composer repository, and access keys never publish', async (t) => {
  const { app, dataDir, admin, ci } = await setup(t)
  for (const token of [admin, ci]) {
    const res = await app.inject({ url: '/packages.json', headers: basic('token', token) })
    t.equal(res.statusCode, 401)
    t.equal((await app.inject({ url: '/packages.json', headers: bearer(token) })).statusCode, 401)
  }
  await cliJsonQuick(dataDir, ['account', 'create', 'alice'])
  const key = await cliJsonQuick(dataDir, ['key', 'create', 'alice', '--name', 'dev'])
  t.equal((await app.inject({ url: '/packages.json', headers: basic(key.publicKey, key.privateKey) })).statusCode, 200)
  const r = await put(app, '/api/packages/upload/acme/widget/1.0.0', await zipOf('acme/widget'), { 'content-type': 'application/zip', ...basic(key.publicKey, key.privateKey) })
  t.equal(r.status, 401)
})

t.test('scopes: 403 without the needed scope, outside the patterns, or setting access', async (t) => {
  const { app, ci, admin, published, uploadsLeft } = await setup(t)
  // The hook is reusable: an admin-only route, as later operator endpoints will use it.
  const auth = createApiAuth({ tokens: app.ctx.apiTokens, realm: 'Packyard' })
  await app.register(async (scoped) => {
    scoped.addHook('onRequest', auth.requireScope('admin'))
    scoped.get('/api/test-admin-only', async (request) => ({ token: auth.tokenOf(request).name }))
  })
  const adminOnly = await app.inject({ url: '/api/test-admin-only', headers: bearer(ci) })
  t.equal(adminOnly.statusCode, 403)
  t.match(JSON.parse(adminOnly.body), { code: 'FORBIDDEN', message: 'API token "acme-ci" has scope publish; this needs admin' })
  t.same(JSON.parse((await app.inject({ url: '/api/test-admin-only', headers: bearer(admin) })).body), { token: 'root' })
  t.equal((await app.inject({ url: '/api/test-admin-only' })).statusCode, 401)

  const other = await zipOf('other/tool', '1.0.0')
  const outside = await put(app, '/api/packages/upload/other/tool/1.0.0', other, { 'content-type': 'application/zip', ...bearer(ci) })
  t.equal(outside.status, 403)
  t.match(outside.json(), { code: 'FORBIDDEN', message: 'API token "acme-ci" may publish only acme/*; not other/tool' })
  const viaPost = await post(app, '/api/v1/packages', other, { 'content-type': 'application/zip', ...bearer(ci) })
  t.equal(viaPost.status, 403, 'POST: refused once composer.json names the package')
  t.match(viaPost.json(), { message: /may publish only acme\/\*; not other\/tool/ })
  const access = await put(app, '/api/packages/upload/acme/widget/1.0.0?access=public', await zipOf('acme/widget'), { 'content-type': 'application/zip', ...bearer(ci) })
  t.equal(access.status, 403)
  t.match(access.json(), { message: /may not set access; new packages are restricted/ })
  t.same(published(), [], 'nothing was published')
  t.same(uploadsLeft(), [], 'no temp file left')

  const inside = await put(app, '/api/packages/upload/acme/widget/1.0.0', await zipOf('acme/widget'), { 'content-type': 'application/zip', ...bearer(ci) })
  t.equal(inside.status, 201, 'a matching package is published after the refusals')
  const publicByAdmin = await post(app, '/api/v1/packages?access=public', other, { 'content-type': 'application/zip', ...bearer(admin) })
  t.equal(publicByAdmin.status, 201)
  t.same(published(), ['acme/widget 1.0.0 restricted', 'other/tool 1.0.0 public'])
})

t.test('PUT /api/packages/upload: raw and multipart bodies, 201/200/409/400, URL version wins', async (t) => {
  const { app, ci, published, uploadsLeft, log } = await setup(t)
  const v1 = await zipOf('acme/widget', '9.9.9')
  const url = '/api/packages/upload/acme/widget/1.0.0'

  const created = await put(app, url, v1, { 'content-type': 'application/octet-stream', ...bearer(ci) })
  t.equal(created.status, 201)
  const body = created.json()
  t.same(Object.keys(body).sort(), ['name', 'shasum', 'version', 'versionNormalized'])
  t.match(body, { name: 'acme/widget', version: '1.0.0', versionNormalized: '1.0.0.0', shasum: /^[0-9a-f]{40}$/ })
  t.same(published(), ['acme/widget 1.0.0 restricted'], 'the URL version wins over composer.json, and new packages are restricted')

  const same = await put(app, url, v1, { 'content-type': 'application/zip', ...bearer(ci) })
  t.equal(same.status, 200, 'the same bytes again are a no-op')
  t.same(same.json(), body)

  const different = await zipOf('acme/widget', '1.0.0', { 'README.md': 'changed' })
  const conflict = await put(app, url, different, { 'content-type': 'application/zip', ...bearer(ci) })
  t.equal(conflict.status, 409)
  t.match(conflict.json(), { code: 'VERSION_CONFLICT', message: /already published with different contents/ })

  // composer-push without --src-*: the zip as the body with no Content-Type at all.
  const noType = await put(app, '/api/packages/upload/acme/widget/1.1.0', different, bearer(ci))
  t.equal(noType.status, 201)

  // composer-push with --src-*: multipart, the file in `package`, then the src-* fields.
  const form = multipart([
    { name: 'package', file: await zipOf('acme/widget', '1.0.0', { 'CHANGELOG.md': '1.2' }) },
    { name: 'src-type', value: 'git' },
    { name: 'src-url', value: 'https://git.example.test/acme/widget.git' },
    { name: 'src-ref', value: 'abc123' }
  ])
  const viaForm = await put(app, '/api/packages/upload/acme/widget/1.2.0', form, { 'content-type': MULTIPART, ...basic('composer-push', ci) })
  t.equal(viaForm.status, 201)
  t.match(viaForm.json(), { name: 'acme/widget', version: '1.2.0' })
  t.equal((await put(app, '/api/packages/upload/acme/widget/1.2.0', form, { 'content-type': MULTIPART, ...bearer(ci) })).status, 200)
  t.match(log(), /"apiToken":"acme-ci","package":"acme\/widget","version":"1.2.0"[^\n]*"src-type":"git","src-url":"https:\/\/git.example.test\/acme\/widget.git","src-ref":"abc123"[^\n]*"package published over HTTP"/)

  const mismatch = await put(app, '/api/packages/upload/acme/other/2.0.0', v1, { 'content-type': 'application/zip', ...bearer(ci) })
  t.equal(mismatch.status, 400)
  t.match(mismatch.json(), { code: 'BAD_REQUEST', message: 'the URL names acme/other but the archive\'s composer.json names acme/widget; upload it to /api/packages/upload/acme/widget/<version>' })

  for (const [name, payload, headers, message] of [
    ['not a zip', Buffer.from('definitely not a zip'), { 'content-type': 'application/zip' }, /acme-widget-3.0.0.zip: /],
    ['no composer.json', await makeZip({ 'README.md': 'x' }), { 'content-type': 'application/zip' }, /composer.json/],
    ['empty body', Buffer.alloc(0), { 'content-type': 'application/zip' }, /no archive in the request body/],
    ['no package field', multipart([{ name: 'src-type', value: 'git' }]), { 'content-type': MULTIPART }, /no archive in the form field "package"/],
    ['wrong file field', multipart([{ name: 'file', file: v1 }]), { 'content-type': MULTIPART }, /unexpected file in form field "file"/],
    ['truncated multipart', multipart([{ name: 'package', file: v1 }]).subarray(0, 300), { 'content-type': MULTIPART }, /malformed multipart body/]
  ] as const) {
    const r = await put(app, '/api/packages/upload/acme/widget/3.0.0', payload, { ...headers, ...bearer(ci) })
    t.equal(r.status, 400, name)
    t.match(r.json(), { message }, name)
  }
  const badVersion = await put(app, '/api/packages/upload/acme/widget/not-a-version', v1, { 'content-type': 'application/zip', ...bearer(ci) })
  t.equal(badVersion.status, 400)
  t.match(badVersion.json(), { code: 'INVALID_VERSION' })

  t.same(published(), ['acme/widget 1.2.0,1.1.0,1.0.0 restricted'], 'no refused upload published anything')
  t.same(uploadsLeft(), [], 'every temp file was removed')
})

t.test('POST /api/v1/packages: raw zip, optional ?version=, 201/200/409/400', async (t) => {
  const { app, ci, published, uploadsLeft } = await setup(t)
  const zip = await zipOf('acme/tool', '2.0.0')
  const created = await post(app, '/api/v1/packages', zip, { 'content-type': 'application/zip', ...bearer(ci) })
  t.equal(created.status, 201)
  t.match(created.json(), { name: 'acme/tool', version: '2.0.0', versionNormalized: '2.0.0.0' })
  t.equal((await post(app, '/api/v1/packages', zip, { 'content-type': 'application/zip', ...bearer(ci) })).status, 200)
  const override = await post(app, '/api/v1/packages?version=2.1.0-beta1', zip, { 'content-type': 'application/zip', ...bearer(ci) })
  t.equal(override.status, 201)
  t.match(override.json(), { version: '2.1.0-beta1', versionNormalized: '2.1.0.0-beta1' })
  const conflict = await post(app, '/api/v1/packages', await zipOf('acme/tool', '2.0.0', { 'x.txt': 'x' }), { 'content-type': 'application/zip', ...bearer(ci) })
  t.equal(conflict.status, 409)
  const noVersion = await post(app, '/api/v1/packages', await zipOf('acme/tool'), { 'content-type': 'application/zip', ...bearer(ci) })
  t.equal(noVersion.status, 400)
  t.match(noVersion.json(), { code: 'INVALID_COMPOSER_JSON', message: /has no "version"/ })
  t.same(published(), ['acme/tool 2.1.0-beta1,2.0.0 restricted'])
  t.same(uploadsLeft(), [])
})

t.test('413 above PACKYARD_MAX_UPLOAD_BYTES, counted while streaming, on both routes', async (t) => {
  const { app, ci, published, uploadsLeft } = await setup(t, { maxUploadBytes: 8192 })
  const big = await zipOf('acme/big', '1.0.0', { 'blob.bin': randomBytes(20_000) })
  const small = await zipOf('acme/big', '1.0.0')
  const chunked = (bytes: Buffer) => Readable.from([bytes.subarray(0, 4000), bytes.subarray(4000, 9000), bytes.subarray(9000)])

  const cases: Array<[string, () => Promise<{ status: number, json: () => Json }>]> = [
    ['PUT raw, Content-Length', () => put(app, '/api/packages/upload/acme/big/1.0.0', big, { 'content-type': 'application/zip', ...bearer(ci) })],
    ['PUT raw, streamed', () => put(app, '/api/packages/upload/acme/big/1.0.0', chunked(big), { 'content-type': 'application/zip', ...bearer(ci) })],
    ['PUT multipart', () => put(app, '/api/packages/upload/acme/big/1.0.0', multipart([{ name: 'package', file: big }]), { 'content-type': MULTIPART, ...bearer(ci) })],
    ['POST raw, streamed', () => post(app, '/api/v1/packages', chunked(big), { 'content-type': 'application/zip', ...bearer(ci) })],
    ['POST multipart', () => post(app, '/api/v1/packages', multipart([{ name: 'package', file: big }]), { 'content-type': MULTIPART, ...bearer(ci) })]
  ]
  for (const [name, send] of cases) {
    const r = await send()
    t.equal(r.status, 413, name)
    t.match(r.json(), { code: 'PAYLOAD_TOO_LARGE', message: /larger than this server accepts \(8192 bytes, PACKYARD_MAX_UPLOAD_BYTES\)/ }, name)
    t.same(uploadsLeft(), [], `${name}: the temp file was removed`)
    t.same(published(), [], `${name}: nothing was published`)
  }
  const ok = await put(app, '/api/packages/upload/acme/big/1.0.0', chunked(small), { 'content-type': 'application/zip', ...bearer(ci) })
  t.equal(ok.status, 201, 'a small archive still goes through')
})

t.test('PACKYARD_MAX_UPLOAD_BYTES: 256 MiB by default, a whole number of bytes', async (t) => {
  t.equal(loadConfig({}).maxUploadBytes, 256 * 1024 * 1024)
  t.equal(loadConfig({ PACKYARD_MAX_UPLOAD_BYTES: '1048576' }).maxUploadBytes, 1048576)
  for (const bad of ['0', '-1', '1.5', '10MB']) {
    t.throws(() => loadConfig({ PACKYARD_MAX_UPLOAD_BYTES: bad }), { name: 'ConfigError', message: /invalid PACKYARD_MAX_UPLOAD_BYTES/ }, bad)
  }
})
