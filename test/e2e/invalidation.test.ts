import t from 'tap'
import { basic, cliJson, startServer, tempDir, writePackageZip } from '../helpers/harness.js'

// The Composer routes answer from memory. Every change made by the `packyard` command in
// another process, while the server runs, must show on the very next request.
t.test('changes made by the CLI in another process are seen by the next request', async (t) => {
  const dataDir = tempDir(t)
  const work = tempDir(t)
  await cliJson(dataDir, ['account', 'create', 'erin'])
  await cliJson(dataDir, ['publish', '--access', 'public', await writePackageZip(work, { name: 'acme/open', version: '1.0.0' })])
  await cliJson(dataDir, ['publish', await writePackageZip(work, { name: 'acme/paid', version: '1.0.0' })])
  let key = await cliJson(dataDir, ['key', 'create', 'erin', '--name', 'ci'])
  const server = await startServer(t, dataDir)

  const get = async (path: string, pair = key): Promise<Response> => await fetch(`${server.url}${path}`, { headers: basic(pair.publicKey, pair.privateKey) })
  const json = async (path: string): Promise<any> => await (await get(path)).json()
  const available = async (): Promise<string[] | undefined> => (await json('/packages.json'))['available-packages']
  const status = async (path: string, pair = key): Promise<number> => (await get(path, pair)).status

  // Warm every cache first, so each step below proves invalidation, not a cold read.
  t.same(await available(), ['acme/open'])
  t.equal(await status('/p2/acme/open.json'), 200)
  t.equal(await status('/p2/acme/paid.json'), 404)

  await cliJson(dataDir, ['grant', 'erin', 'acme/paid'])
  t.same(await available(), ['acme/open', 'acme/paid'], 'grant: in packages.json on the next request')
  t.equal(await status('/p2/acme/paid.json'), 200, 'grant: p2 on the next request')

  await cliJson(dataDir, ['revoke', 'erin', 'acme/paid'])
  t.same(await available(), ['acme/open'], 'revoke: gone from packages.json on the next request')
  t.equal(await status('/p2/acme/paid.json'), 404, 'revoke: p2 404 on the next request')

  await cliJson(dataDir, ['package', 'access', 'acme/paid', 'public'])
  t.same(await available(), ['acme/open', 'acme/paid'], 'access change to public: seen on the next request')
  await cliJson(dataDir, ['package', 'access', 'acme/paid', 'restricted'])
  t.equal(await status('/p2/acme/paid.json'), 404, 'access change to restricted: seen on the next request')

  const before = (await json('/p2/acme/open.json')).packages['acme/open'].length
  await cliJson(dataDir, ['publish', await writePackageZip(work, { name: 'acme/open', version: '1.1.0' })])
  const after = (await json('/p2/acme/open.json')).packages['acme/open']
  t.equal(after.length, before + 1, 'publish of a version: in the p2 document on the next request')
  t.equal(after[0].version, '1.1.0')
  await cliJson(dataDir, ['publish', '--access', 'public', await writePackageZip(work, { name: 'acme/new', version: '0.1.0' })])
  t.same(await available(), ['acme/new', 'acme/open'], 'publish of a new package: in packages.json on the next request')

  await cliJson(dataDir, ['key', 'disable', key.publicKey])
  t.equal(await status('/packages.json'), 401, 'disable: refused on the next request')
  await cliJson(dataDir, ['key', 'enable', key.publicKey])
  t.equal(await status('/packages.json'), 200, 'enable: accepted on the next request')

  const old = key
  key = await cliJson(dataDir, ['key', 'regenerate', old.publicKey])
  t.equal(await status('/packages.json', old), 401, 'regenerate: the old pair is refused on the next request')
  t.equal(await status('/packages.json'), 200, 'regenerate: the new pair works on the next request')

  await cliJson(dataDir, ['key', 'delete', key.publicKey])
  t.equal(await status('/packages.json'), 401, 'delete: refused on the next request')
})
