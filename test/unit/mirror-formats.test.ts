import t from 'tap'
import {
  changesFeedUrl, expandMinified, matchesPattern, parseChanges, parseIncludeFile, parseProviderIncludes, parseRoot, parseV1Provider, parseV2Document, resolveRootUrl,
  sha256Hex, UpstreamFormatError, vendorPatterns
} from '../../src/composer/upstream-formats.js'
import { credentialsFor, loadUpstreamCredentials } from '../../src/services/upstream-http.js'
import { minify } from '../../src/composer/metadata.js'
import { createHash } from 'node:crypto'

const sha1Hex = (b: Buffer): string => createHash('sha1').update(b).digest('hex')

const full = [
  { name: 'acme/widget', version: '2.1.0-p1', version_normalized: '2.1.0.0-patch1', type: 'library', require: { php: '>=8.1' }, dist: { type: 'zip', url: 'https://up.test/a.zip', reference: null, shasum: '1111111111111111111111111111111111111111' }, extra: { x: 1 } },
  { name: 'acme/widget', version: '2.1.0', version_normalized: '2.1.0.0', type: 'library', require: { php: '>=8.1' }, dist: { type: 'zip', url: 'https://up.test/b.zip', reference: null, shasum: '' } }
]

t.test('the composer/2.0 expansion undoes the minifier, __unset included', async (t) => {
  const min = minify(full)
  t.same(min[1], { version: '2.1.0', version_normalized: '2.1.0.0', dist: full[1]!.dist, extra: '__unset' })
  t.same(expandMinified(min), full)
})

t.test('a v2 document is read into complete versions with upstream dist URL and shasum', async (t) => {
  const doc = JSON.stringify({ minified: 'composer/2.0', packages: { 'acme/widget': minify(full), 'other/x': [] } })
  const versions = parseV2Document('acme/widget', doc)
  t.equal(versions.length, 2)
  t.equal(versions[1]!.versionNormalized, '2.1.0.0')
  t.equal(versions[1]!.distUrl, 'https://up.test/b.zip')
  t.equal(versions[1]!.distShasum, '')
  t.equal(versions[1]!.metadata.extra, undefined, '__unset removed the key')
  t.same(versions[1]!.metadata.require, { php: '>=8.1' }, 'inherited from the previous version')
  t.same(parseV2Document('acme/none', doc), [])
  t.throws(() => parseV2Document('acme/widget', '{"packages":{"acme/widget":{}}}'), UpstreamFormatError)
  t.throws(() => parseV2Document('acme/widget', 'not json'), UpstreamFormatError)
})

t.test('a version without version_normalized gets Composer\'s normalisation; one without dist is left out', async (t) => {
  const doc = JSON.stringify({ packages: { 'acme/w': [{ name: 'acme/w', version: 'v1.2', dist: { type: 'zip', url: 'https://up.test/w.zip' } }, { name: 'acme/w', version: '2.0.0' }] } })
  const versions = parseV2Document('acme/w', doc)
  t.equal(versions.length, 1)
  t.equal(versions[0]!.versionNormalized, '1.2.0.0')
})

t.test('v1 provider files are checked against the sha256 their parent names', async (t) => {
  const provider = Buffer.from(JSON.stringify({ packages: { 'legacy/tool': { '1.0.0': { name: 'legacy/tool', version: '1.0.0', uid: 7, 'notification-url': 'https://up.test/n', dist: { type: 'zip', url: 'https://up.test/t.zip', shasum: 'ABCDEF' } } } } }))
  const sha = sha256Hex(provider)
  const includes = Buffer.from(JSON.stringify({ providers: { 'legacy/tool': { sha256: sha } } }))
  t.same([...parseProviderIncludes(includes, sha256Hex(includes), 'include')], [['legacy/tool', sha]])
  t.throws(() => parseProviderIncludes(includes, '0'.repeat(64), 'include'), /sha256 .* does not match/)
  const versions = parseV1Provider('legacy/tool', provider, sha)
  t.equal(versions.length, 1)
  t.equal(versions[0]!.versionNormalized, '1.0.0.0')
  t.equal(versions[0]!.distShasum, 'abcdef')
  t.equal(versions[0]!.metadata.uid, undefined, 'uid is v1 bookkeeping')
  t.equal(versions[0]!.metadata['notification-url'], undefined, 'installs notify this server, not upstream')
  const tampered = Buffer.concat([provider, Buffer.from(' ')])
  t.throws(() => parseV1Provider('legacy/tool', tampered, sha), UpstreamFormatError)
})

t.test('roots: v2 wins over v1, URLs resolve as Composer resolves them', async (t) => {
  const v2 = parseRoot('https://up.test/repo', JSON.stringify({ 'metadata-url': '/p2/%package%.json', 'providers-url': '/p/%package%$%hash%.json', 'available-packages': ['Acme/A'] }))
  t.same(v2, { protocol: 'v2', metadataUrl: 'https://up.test/p2/%package%.json', advisoriesUrl: undefined, availablePackages: ['acme/a'], availablePatterns: [] })
  const withAdvisories = parseRoot('https://up.test/repo', JSON.stringify({ 'metadata-url': '/p2/%package%.json', 'security-advisories': { metadata: false, 'api-url': '/api/security-advisories/' } }))
  t.equal(withAdvisories.protocol === 'v2' && withAdvisories.advisoriesUrl, 'https://up.test/api/security-advisories/', 'the advisories api-url resolves like metadata-url')
  const nullApi = parseRoot('https://up.test', JSON.stringify({ 'metadata-url': '/p2/%package%.json', 'security-advisories': { metadata: true, 'api-url': null } }))
  t.equal(nullApi.protocol === 'v2' && nullApi.advisoriesUrl, undefined, 'no api-url: no advisories asked')
  const sha = 'a'.repeat(64)
  const v1 = parseRoot('https://up.test', JSON.stringify({ 'providers-url': '/p/%package%$%hash%.json', 'provider-includes': { 'p/provider-all$%hash%.json': { sha256: sha } } }))
  t.equal(v1.protocol, 'v1')
  t.same(v1.protocol === 'v1' && v1.providerIncludes, [{ url: `https://up.test/p/provider-all$${sha}.json`, sha256: sha }])
  t.throws(() => parseRoot('https://up.test', '{"packages":{}}'), /neither metadata-url/)
  t.equal(resolveRootUrl('https://up.test/sub', 'https://cdn.test/x'), 'https://cdn.test/x')
})

t.test('Composer 1 roots with inline packages and Satis includes (sha1 or sha256), with or without providers', async (t) => {
  const version = (name: string, v: string): Record<string, unknown> => ({ name, version: v, uid: 1, dist: { type: 'zip', url: `https://up.test/dist/${name}-${v}.zip`, reference: null, shasum: '' } })
  // Satis: packages empty (PHP's []), everything in an include named by its sha1.
  const include = Buffer.from(JSON.stringify({ packages: { 'acme/a': { '1.0.0': version('acme/a', '1.0.0'), 'dev-main': version('acme/a', 'dev-main') } } }))
  const satis = parseRoot('https://up.test/repo', JSON.stringify({ packages: [], includes: { [`include/all$${sha1Hex(include)}.json`]: { sha1: sha1Hex(include) } } }))
  if (satis.protocol !== 'v1') throw new Error('expected v1')
  t.equal(satis.providersUrl, undefined, 'no providers')
  t.same(satis.includes, [{ url: `https://up.test/repo/include/all$${sha1Hex(include)}.json`, sha1: sha1Hex(include), sha256: undefined }], 'relative to the repository URL, as Composer takes it')
  const file = parseIncludeFile('https://up.test/repo', include, satis.includes[0]!, 'include')
  t.same([...file.packages.keys()], ['acme/a'])
  t.same(file.packages.get('acme/a')!.map((v) => v.versionNormalized), ['1.0.0.0', 'dev-main'])
  t.equal(file.packages.get('acme/a')![0]!.metadata.uid, undefined)
  t.throws(() => parseIncludeFile('https://up.test/repo', Buffer.concat([include, Buffer.from(' ')]), satis.includes[0]!, 'include'), /sha1 .* does not match/)
  const bySha256 = { url: 'https://up.test/x.json', sha1: undefined, sha256: sha256Hex(include) }
  t.equal(parseIncludeFile('https://up.test', include, bySha256, 'include').packages.size, 1, 'a sha256 is checked when given')
  t.throws(() => parseIncludeFile('https://up.test', include, { ...bySha256, sha256: '0'.repeat(64) }, 'include'), /sha256 .* does not match/)

  // Inline packages next to providers; the name each version carries is the one used; nested includes are returned.
  const mixed = parseRoot('https://up.test', JSON.stringify({
    packages: { 'Acme/Inline': { '2.0.0': version('acme/inline', '2.0.0') }, 'acme/source-only': { '1.0.0': { name: 'acme/source-only', version: '1.0.0' } } },
    'providers-url': '/p/%package%$%hash%.json',
    'provider-includes': { 'p/all$%hash%.json': { sha256: 'b'.repeat(64) } },
    includes: { '/more.json': { sha256: 'c'.repeat(64) } }
  }))
  if (mixed.protocol !== 'v1') throw new Error('expected v1')
  t.equal(mixed.providersUrl, 'https://up.test/p/%package%$%hash%.json')
  t.same([...mixed.packages.keys()], ['acme/inline'], 'a version without a dist is left out')
  t.same(mixed.includes, [{ url: 'https://up.test/more.json', sha1: undefined, sha256: 'c'.repeat(64) }])
  const nested = Buffer.from(JSON.stringify({ includes: { 'deeper.json': { sha1: 'd'.repeat(40) } } }))
  t.same(parseIncludeFile('https://up.test/repo', nested, { url: 'https://up.test/repo/n.json', sha1: sha1Hex(nested), sha256: undefined }, 'include').includes,
    [{ url: 'https://up.test/repo/deeper.json', sha1: 'd'.repeat(40), sha256: undefined }])

  t.throws(() => parseRoot('https://up.test', JSON.stringify({ includes: { 'all.json': {} } })), /include all\.json in packages\.json has no sha1 or sha256/)
  t.throws(() => parseRoot('https://up.test', JSON.stringify({ packages: { 'acme/a': 'nope' } })), /not an object of versions/)
})

t.test('the metadata-changes-url feed, read as packagist.org answers it', async (t) => {
  const root = parseRoot('https://repo.packagist.org', JSON.stringify({ 'metadata-url': '/p2/%package%.json', 'metadata-changes-url': 'https://packagist.org/metadata/changes.json' }))
  t.equal(root.protocol === 'v2' && root.changesUrl, 'https://packagist.org/metadata/changes.json')
  t.equal(changesFeedUrl('https://packagist.org/metadata/changes.json', null), 'https://packagist.org/metadata/changes.json', 'no since: asks where to start')
  t.equal(changesFeedUrl('https://packagist.org/metadata/changes.json', 17000000000001), 'https://packagist.org/metadata/changes.json?since=17000000000001')
  t.same(parseChanges('{"error":"Invalid or missing \\"since\\" query parameter","timestamp":17000000000001}', 'feed'), { kind: 'restart', timestamp: 17000000000001 })
  t.same(parseChanges('{"actions":[{"type":"resync","time":1700000000,"package":"*"}],"timestamp":17000000000002}', 'feed'), { kind: 'restart', timestamp: 17000000000002 })
  const changes = parseChanges(JSON.stringify({
    actions: [
      { type: 'update', package: 'Acme/One', time: 1 },
      { type: 'update', package: 'acme/dev-only~dev', time: 1 },
      { type: 'delete', package: 'acme/gone', time: 1 },
      { type: 'delete', package: 'acme/back', time: 1 },
      { type: 'update', package: 'acme/back~dev', time: 2 }
    ],
    timestamp: 17000000000003
  }), 'feed')
  t.same(changes, { kind: 'changes', timestamp: 17000000000003, updated: new Set(['acme/one', 'acme/dev-only', 'acme/back']), deleted: new Set(['acme/gone']) })
  t.throws(() => parseChanges('{"actions":[]}', 'feed'), /feed has no "timestamp"/)
  t.throws(() => parseChanges('{"timestamp":5}', 'feed'), /neither "actions" nor "error"/)
})

t.test('patterns: vendors of advertised names, Composer\'s anchored wildcard match', async (t) => {
  t.same(vendorPatterns(['magento/module-a', 'magento/framework', 'laminas/x'], ['psr/*']), ['laminas/*', 'magento/*', 'psr/*'])
  t.ok(matchesPattern('magento/module-a', 'magento/*'))
  t.notOk(matchesPattern('magentox/a', 'magento/*'))
  t.ok(matchesPattern('any/thing', '*'))
})

t.test('upstream credentials match the request URL\'s host and port only', async (t) => {
  const creds = loadUpstreamCredentials({ json: JSON.stringify({ 'http-basic': { 'repo.test:8443': { username: 'a', password: 'b' }, 'other.test': { username: 'c', password: 'd' } } }) })
  t.same(credentialsFor(creds, new URL('https://repo.test:8443/x')), { username: 'a', password: 'b' })
  t.equal(credentialsFor(creds, new URL('https://repo.test/x')), undefined)
  t.same(credentialsFor(creds, new URL('https://other.test:99/x')), { username: 'c', password: 'd' })
  t.equal(credentialsFor(creds, new URL('https://cdn.test/x')), undefined)
  t.throws(() => loadUpstreamCredentials({ json: '{oops' }), /not valid JSON/)
})
