import t from 'tap'
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { basic, cliJsonQuick as cliJson, runCliQuick as runCli } from '../helpers/harness.js'
import { hash, seed, type Cred } from '../helpers/downloads.js'
import { byteRange as parseRange } from '../../src/http/byte-range.js'
import { versionMatcher } from '../../src/services/downloads.js'

async function get (app: FastifyInstance, url: string, cred: Cred | undefined, headers: Record<string, string> = {}) {
  return await app.inject({ url: `/products/downloads/${url}`, headers: { ...(cred === undefined ? {} : basic(cred.mageId, cred.token)), ...headers } })
}

t.test('downloads API in-process: listings, JSON feed, editions and grants, ranges, 401s', async (t) => {
  const { dataDir, files, alice, bob } = await seed(t)
  const { buildApp } = await import('../../src/app.js')
  const { loadConfig } = await import('../../src/config.js')
  const app = await buildApp(loadConfig({}, { dataDir, logLevel: 'silent' }))
  t.teardown(() => app.close())

  const help = await get(app, 'info/help', alice)
  t.equal(help.statusCode, 200)
  t.match(help.headers['content-type'], /^text\/plain/)
  t.match(help.body, /info\/filter\/version/)

  const aliceFiles = (await get(app, 'info/files', alice)).body.trim().split('\n')
  t.same(aliceFiles.map((l) => l.split(/\s+/).at(-1)), ['acme-suite-ce-2.4.6-p3.zip', 'acme-suite-ee-2.4.6-p3.zip', 'release-notes-2.4.6.txt', 'acme-suite-ee-2.4.5.zip'],
    'one file a line, the file name last, newest version first (2.4.6-p3 is a patch release after 2.4.6)')
  t.match(aliceFiles[1], /^2\.4\.6-p3\s+ee-full\s+1000000\s+acme-suite-ee-2\.4\.6-p3\.zip$/)
  t.match(aliceFiles[2], /^2\.4\.6\s+-\s+6\s+release-notes/)
  const bobFiles = (await get(app, 'info/files', bob)).body
  t.notMatch(bobFiles, /ee-full/, 'a restricted edition is hidden without a grant')
  t.match(bobFiles, /acme-suite-ce-2\.4\.6-p3\.zip/, 'a public edition is listed to every account')
  t.match(bobFiles, /release-notes-2\.4\.6\.txt/, 'a file with no edition is listed to every account')

  t.equal((await get(app, 'info/versions', alice)).body, '2.4.6-p3\n2.4.6\n2.4.5\n')
  t.equal((await get(app, 'info/versions', bob)).body, '2.4.6-p3\n2.4.6\n')
  t.same((await get(app, 'info/filter/version/2.4.*', alice)).body.trim().split('\n').length, 4)
  t.match((await get(app, 'info/filter/version/2.4.6-p*', alice)).body, /acme-suite-ce.*\n.*acme-suite-ee-2\.4\.6-p3\.zip\n$/)
  t.equal((await get(app, 'info/filter/version/2.4.5', alice)).body.trim().split(/\s+/).at(-1), 'acme-suite-ee-2.4.5.zip')
  t.equal((await get(app, 'info/filter/version/2.4.5', bob)).body, 'No results found.\n')
  t.equal((await get(app, 'info/filter/version/9.*', alice)).body, 'No results found.\n')
  t.equal((await get(app, 'info/filter/type/ee-full', alice)).body.trim().split('\n').length, 2)
  t.equal((await get(app, 'info/filter/type/ee-full', bob)).body, 'No results found.\n')
  t.match((await get(app, 'info/filter/type/ce-full', bob)).body, /acme-suite-ce/)

  const feed = JSON.parse((await get(app, 'info/json', alice)).body)
  const ee = feed.files.find((f: { file_name: string }) => f.file_name === 'acme-suite-ee-2.4.6-p3.zip')
  const bytes = files['acme-suite-ee-2.4.6-p3.zip']
  t.same(ee, {
    file_name: 'acme-suite-ee-2.4.6-p3.zip',
    version: '2.4.6-p3',
    edition: 'ee-full',
    size: bytes.length,
    md5: hash('md5', bytes),
    sha1: hash('sha1', bytes),
    sha256: hash('sha256', bytes),
    released_at: ee.released_at
  })
  t.equal(JSON.parse((await get(app, 'info/json', bob)).body).files.length, 2)

  const file = await get(app, 'file/acme-suite-ee-2.4.6-p3.zip', alice)
  t.equal(file.statusCode, 200)
  t.equal(file.headers['content-length'], String(bytes.length))
  t.equal(file.headers['x-checksum-sha256'], hash('sha256', bytes))
  t.equal(file.headers['x-checksum-md5'], hash('md5', bytes))
  t.equal(file.headers['content-md5'], createHash('md5').update(bytes).digest('base64'))
  t.equal(file.headers['accept-ranges'], 'bytes')
  t.ok(file.rawPayload.equals(bytes), 'the bytes')
  t.equal((await get(app, 'file/acme-suite-ee-2.4.6-p3.zip', bob)).statusCode, 404, 'no grant: as if it did not exist')
  t.equal((await get(app, 'file/acme-suite-ce-2.4.6-p3.zip', bob)).statusCode, 200)
  t.equal((await get(app, 'file/nope.zip', alice)).statusCode, 404)
  for (const sneaky of ['..%2F..%2Fpackyard.sqlite', '%2E%2E%2Fpackyard.sqlite', 'packyard.sqlite']) {
    const res = await get(app, `file/${sneaky}`, alice)
    t.equal(res.statusCode, 404, `file/${sneaky}`)
    t.match(res.body, /^Error: /)
  }

  const tail = await get(app, 'file/acme-suite-ee-2.4.6-p3.zip', alice, { range: 'bytes=999000-' })
  t.equal(tail.statusCode, 206)
  t.equal(tail.headers['content-range'], `bytes 999000-999999/${bytes.length}`)
  t.equal(tail.headers['content-length'], '1000')
  t.ok(tail.rawPayload.equals(bytes.subarray(999000)))
  const middle = await get(app, 'file/acme-suite-ee-2.4.6-p3.zip', alice, { range: 'bytes=10-19' })
  t.equal(middle.statusCode, 206)
  t.ok(middle.rawPayload.equals(bytes.subarray(10, 20)))
  const suffix = await get(app, 'file/acme-suite-ee-2.4.6-p3.zip', alice, { range: 'bytes=-5' })
  t.ok(suffix.rawPayload.equals(bytes.subarray(bytes.length - 5)))
  const beyond = await get(app, 'file/acme-suite-ee-2.4.6-p3.zip', alice, { range: `bytes=${bytes.length}-` })
  t.equal(beyond.statusCode, 416)
  t.equal(beyond.headers['content-range'], `bytes */${bytes.length}`)
  t.equal((await get(app, 'file/acme-suite-ee-2.4.6-p3.zip', alice, { range: 'bytes=0-1,5-6' })).statusCode, 200, 'several ranges: the whole file')
  t.equal((await get(app, 'file/acme-suite-ee-2.4.6-p3.zip', alice, { range: 'bytes=10-', 'if-range': '"other"' })).statusCode, 200, 'If-Range mismatch: the whole file')
  const head = await app.inject({ method: 'HEAD', url: '/products/downloads/file/acme-suite-ee-2.4.6-p3.zip', headers: basic(alice.mageId, alice.token) })
  t.equal(head.statusCode, 200)
  t.equal(head.headers['content-length'], String(bytes.length))
  t.equal(head.body, '')

  const none = await get(app, 'info/files', undefined)
  t.equal(none.statusCode, 401)
  t.match(none.headers['www-authenticate'], /^Basic realm="Packyard downloads"/)
  t.match(none.body, /MAGEID/)
  for (const [label, cred] of [
    ['wrong token', { mageId: alice.mageId, token: '0'.repeat(40) }],
    ["another account's token", { mageId: alice.mageId, token: bob.token }],
    ['unknown MAGEID', { mageId: 'MAG000000000', token: alice.token }],
    ['garbage', { mageId: 'x', token: 'y' }]
  ] as const) {
    const res = await get(app, 'file/acme-suite-ce-2.4.6-p3.zip', cred)
    t.equal(res.statusCode, 401, label)
    t.match(res.headers['www-authenticate'], /^Basic /)
  }
  t.equal((await get(app, 'info/files', { mageId: alice.mageId.toLowerCase(), token: alice.token })).statusCode, 200, 'the MAGEID is case-insensitive')

  // A replaced token stops working at once; a revoked grant hides the files at once.
  const replaced = app.ctx.downloads.regenerateToken(app.ctx.accounts.get('alice').id)
  t.equal((await get(app, 'info/files', alice)).statusCode, 401)
  const fresh = { mageId: alice.mageId, token: replaced.token }
  t.equal((await get(app, 'info/files', fresh)).statusCode, 200)
  t.same(await cliJson(dataDir, ['revoke', 'alice', 'ee-full']), { username: 'alice', edition: 'ee-full', granted: false })
  t.notMatch((await get(app, 'info/files', fresh)).body, /ee-full/)
  t.equal((await get(app, 'file/acme-suite-ee-2.4.5.zip', fresh)).statusCode, 404)
  await cliJson(dataDir, ['edition', 'access', 'ee-full', 'public'])
  t.equal((await get(app, 'file/acme-suite-ee-2.4.5.zip', bob)).statusCode, 200, 'a public edition is served to all')
})

t.test('release add: immutable names, same bytes is a no-op, bad input is refused; grant keeps working for packages', async (t) => {
  const { dataDir, work } = await seed(t)
  const again = await runCli(dataDir, ['--json', 'release', 'add', path.join(work, 'acme-suite-ee-2.4.5.zip'), '--version', '2.4.5', '--edition', 'ee-full'])
  t.equal(again.code, 0, 'the same file again is a no-op')
  writeFileSync(path.join(work, 'acme-suite-ee-2.4.5.zip'), 'different bytes')
  const changed = await runCli(dataDir, ['--json', 'release', 'add', path.join(work, 'acme-suite-ee-2.4.5.zip'), '--version', '2.4.5', '--edition', 'ee-full'])
  t.equal(changed.code, 1)
  t.match(changed.stderr, /already exists with other contents/)
  t.match((await runCli(dataDir, ['release', 'add', path.join(work, 'missing.zip'), '--version', '1.0.0'])).stderr, /cannot read file/)
  t.match((await runCli(dataDir, ['release', 'add', path.join(work, 'release-notes-2.4.6.txt'), '--version', '1.0 beta', '--name', 'x.txt'])).stderr, /invalid version/)
  t.match((await runCli(dataDir, ['release', 'add', path.join(work, 'release-notes-2.4.6.txt'), '--version', '1.0', '--name', '../x'])).stderr, /invalid file name/)
  t.match((await runCli(dataDir, ['release', 'add', path.join(work, 'release-notes-2.4.6.txt'), '--version', '1.0', '--edition', 'EE Full', '--name', 'y.txt'])).stderr, /invalid edition/)
  t.equal((await runCli(dataDir, ['release', 'add', path.join(work, 'release-notes-2.4.6.txt')])).code, 2, '--version is required')
  const list = await cliJson(dataDir, ['release', 'list'])
  t.equal(list.length, 4)
  t.same((await cliJson(dataDir, ['edition', 'list'])).map((e: { edition: string }) => e.edition), ['ce-full', 'ee-full'])
  t.match((await runCli(dataDir, ['grant', 'alice', 'nothing'])).stderr, /package or edition "nothing" not found/)
  t.match((await runCli(dataDir, ['grant', 'alice', 'acme/nothing'])).stderr, /package "acme\/nothing" not found/)
  t.match((await runCli(dataDir, ['token', 'regenerate', 'nobody'])).stderr, /account "nobody" not found/)
})

t.test('Range parsing (the one parser archives and release files share) and version filters', async (t) => {
  t.same(parseRange('bytes=5-', 10), { start: 5, end: 9 })
  t.same(parseRange('bytes=2-4', 10), { start: 2, end: 4 })
  t.same(parseRange('bytes=2-400', 10), { start: 2, end: 9 })
  t.same(parseRange('bytes=-3', 10), { start: 7, end: 9 })
  t.same(parseRange('bytes=-30', 10), { start: 0, end: 9 })
  t.equal(parseRange('bytes=10-', 10), 'unsatisfiable')
  t.equal(parseRange('bytes=-0', 10), 'unsatisfiable')
  t.equal(parseRange('bytes=0-', 0), undefined, 'an empty file is sent whole (200), not refused')
  t.same(parseRange('bytes=0-1,2-4', 10), { start: 0, end: 4 }, 'adjacent ranges are one range')
  t.equal(parseRange('bytes=5-2', 10), undefined)
  t.equal(parseRange('bytes=0-1,3-4', 10), undefined)
  t.equal(parseRange('items=0-1', 10), undefined)
  t.equal(parseRange(undefined, 10), undefined)
  const m = versionMatcher('2.4.*')
  t.ok(m('2.4.6-p3'))
  t.notOk(m('2.40.1'))
  t.ok(versionMatcher('2.4')('2.4.6'))
  t.ok(versionMatcher('2.4.6')('2.4.6-p3'))
  t.notOk(versionMatcher('2.4')('2.40'))
  t.ok(versionMatcher('1.9.*')('1.9.2.4'))
  t.ok(versionMatcher('*')('anything'))
  t.notOk(versionMatcher('2.4.(')('2.4.6'), 'regex characters are literal')
})
