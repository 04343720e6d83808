/**
 * Reading what an upstream Composer repository serves, in both protocols, into one form: a list
 * of complete version objects per package. Pure: bytes in, versions out (hashing is not I/O).
 * docs/composer-protocol.md §1 (roots), §2.3 (the composer/2.0 minified format), §7 (Composer 1
 * repositories: providers with sha256-addressed files, inline packages and Satis-style includes).
 */
import { createHash } from 'node:crypto'
import { normalizeVersion } from './version.js'

export class UpstreamFormatError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'UpstreamFormatError'
  }
}

export type Json = Record<string, unknown>

/** One version of a package as upstream describes it, expanded and complete. */
export interface UpstreamVersion {
  version: string
  versionNormalized: string
  metadata: Json
  distUrl: string
  distShasum: string
}

/** A Satis-style include file named by a Composer 1 root (or by another include), with the hash it must have. */
export interface PackageInclude { url: string, sha1: string | undefined, sha256: string | undefined }

/** Versions per package name, as a Composer 1 root or include file lists them inline. */
export type InlinePackages = Map<string, UpstreamVersion[]>

/** What an upstream's packages.json says about how to read it. */
export type UpstreamRoot =
  /**
   * `advisoriesUrl`: the `security-advisories` api-url (§6.5), read only alongside metadata-url as
   * Composer does. `changesUrl`: `metadata-changes-url`, packagist.org's feed of changed names
   * (a mirroring aid Composer itself does not read, §1).
   */
  | { protocol: 'v2', metadataUrl: string, advisoriesUrl: string | undefined, changesUrl: string | undefined, availablePackages: string[], availablePatterns: string[] }
  /**
   * Composer 1 (§7): providers (`providersUrl` undefined when there are none), and/or packages
   * inline in the root and in `includes` files (Satis, repo.magento.com's older roots).
   */
  | {
    protocol: 'v1'
    providersUrl: string | undefined
    providerIncludes: Array<{ url: string, sha256: string }>
    packages: InlinePackages
    includes: PackageInclude[]
    availablePackages: string[]
    availablePatterns: string[]
  }

function isObject (v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function parseJson (bytes: Buffer | string, what: string): unknown {
  try {
    return JSON.parse(bytes.toString())
  } catch {
    throw new UpstreamFormatError(`${what} is not valid JSON`)
  }
}

export function sha256Hex (bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/**
 * A URL from a root, resolved the way Composer does (§1.1): a `/`-rooted value gets the scheme,
 * host and port of the repository; an absolute one is used as is; anything else is taken
 * relative to the repository URL (Composer would fail on it; a mirror can be kinder).
 */
export function resolveRootUrl (repositoryUrl: string, value: string): string {
  if (/^https?:\/\//i.test(value)) return value
  const base = new URL(repositoryUrl)
  if (value.startsWith('/')) return `${base.origin}${value}`
  return new URL(value, repositoryUrl.endsWith('/') ? repositoryUrl : `${repositoryUrl}/`).toString()
}

/** The client's expansion of a composer/2.0 list (§2.3): each entry is a shallow diff of the previous one. */
export function expandMinified (list: unknown[]): Json[] {
  const out: Json[] = []
  let previous: Json | undefined
  for (const item of list) {
    if (!isObject(item)) throw new UpstreamFormatError('a version in a minified list is not an object')
    const next: Json = previous === undefined ? {} : { ...previous }
    for (const [key, value] of Object.entries(item)) {
      if (value === '__unset') delete next[key]
      else next[key] = value
    }
    out.push(next)
    previous = next
  }
  return out
}

function stringList (v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string').map((s) => s.toLowerCase()) : []
}

/** Reads an upstream packages.json: protocol v2 (metadata-url) wins over v1 (providers-url), as in Composer 2. */
export function parseRoot (repositoryUrl: string, bytes: Buffer | string): UpstreamRoot {
  const root = parseJson(bytes, 'packages.json')
  if (!isObject(root)) throw new UpstreamFormatError('packages.json is not a JSON object')
  const availablePackages = stringList(root['available-packages'])
  const availablePatterns = stringList(root['available-package-patterns'])
  if (typeof root['metadata-url'] === 'string') {
    const sa = root['security-advisories']
    const apiUrl = isObject(sa) && typeof sa['api-url'] === 'string' && sa['api-url'] !== '' ? resolveRootUrl(repositoryUrl, sa['api-url']) : undefined
    const changes = root['metadata-changes-url']
    const changesUrl = typeof changes === 'string' && changes !== '' ? resolveRootUrl(repositoryUrl, changes) : undefined
    return { protocol: 'v2', metadataUrl: resolveRootUrl(repositoryUrl, root['metadata-url']), advisoriesUrl: apiUrl, changesUrl, availablePackages, availablePatterns }
  }
  const hasProviders = typeof root['providers-url'] === 'string' && isObject(root['provider-includes'])
  const packages = inlinePackages(root.packages, 'packages.json')
  const includes = packageIncludes(repositoryUrl, root.includes, 'packages.json')
  if (!hasProviders && packages.size === 0 && includes.length === 0) {
    throw new UpstreamFormatError('packages.json has neither metadata-url (Composer 2), providers-url with provider-includes, nor packages or includes (Composer 1)')
  }
  const providerIncludes = !hasProviders
    ? []
    : Object.entries(root['provider-includes'] as Json).map(([file, info]) => {
      const sha256 = isObject(info) && typeof info.sha256 === 'string' ? info.sha256.toLowerCase() : ''
      if (!/^[0-9a-f]{64}$/.test(sha256)) throw new UpstreamFormatError(`provider include ${file} has no sha256`)
      return { url: resolveRootUrl(repositoryUrl, file.replace('%hash%', sha256)), sha256 }
    })
  const providersUrl = hasProviders ? resolveRootUrl(repositoryUrl, root['providers-url'] as string) : undefined
  return { protocol: 'v1', providersUrl, providerIncludes, packages, includes, availablePackages, availablePatterns }
}

/**
 * `includes` of a Composer 1 root or include file: `{"include/all$<sha1>.json": {"sha1": "…"}}`, each
 * file relative to the repository URL as Composer takes it. A file must name its sha1 or sha256
 * (Satis writes sha1): like provider-includes, what arrives is checked against it.
 */
function packageIncludes (repositoryUrl: string, value: unknown, what: string): PackageInclude[] {
  if (!isObject(value)) return []
  return Object.entries(value).map(([file, info]) => {
    const hash = (key: string, length: number): string | undefined => {
      const v = isObject(info) && typeof info[key] === 'string' ? (info[key] as string).toLowerCase() : undefined
      return v !== undefined && new RegExp(`^[0-9a-f]{${length}}$`).test(v) ? v : undefined
    }
    const sha1 = hash('sha1', 40)
    const sha256 = hash('sha256', 64)
    if (sha1 === undefined && sha256 === undefined) throw new UpstreamFormatError(`include ${file} in ${what} has no sha1 or sha256`)
    return { url: resolveRootUrl(repositoryUrl, file.replace('%hash%', sha256 ?? sha1!)), sha1, sha256 }
  })
}

/**
 * Composer 1's inline `packages` (`{"vendor/name": {"<version>": {…}}}`), keyed by the name each
 * version carries, as Composer reads them; a version without a dist is left out (toVersion).
 */
function inlinePackages (value: unknown, what: string): InlinePackages {
  const out: InlinePackages = new Map()
  // PHP encodes an empty map as []: no packages.
  if (Array.isArray(value) && value.length === 0) return out
  if (value === undefined) return out
  if (!isObject(value)) throw new UpstreamFormatError(`${what}: "packages" is not an object of packages`)
  for (const [key, versions] of Object.entries(value)) {
    if (!isObject(versions) && !Array.isArray(versions)) throw new UpstreamFormatError(`${what}: packages["${key}"] is not an object of versions`)
    for (const raw of Object.values(versions).filter(isObject)) {
      const name = (typeof raw.name === 'string' ? raw.name : key).toLowerCase()
      const v = toVersion(name, raw)
      if (v === undefined) continue
      const list = out.get(name)
      if (list === undefined) out.set(name, [v])
      else list.push(v)
    }
  }
  return out
}

/** A Composer 1 include file, checked against the hash its parent names: its packages and its own includes. */
export function parseIncludeFile (repositoryUrl: string, bytes: Buffer, include: PackageInclude, what: string): { packages: InlinePackages, includes: PackageInclude[] } {
  if (include.sha256 !== undefined) verifySha256(bytes, include.sha256, what)
  else verifySha1(bytes, include.sha1 ?? '', what)
  const doc = parseJson(bytes, what)
  if (!isObject(doc)) throw new UpstreamFormatError(`${what} is not a JSON object`)
  return { packages: inlinePackages(doc.packages, what), includes: packageIncludes(repositoryUrl, doc.includes, what) }
}

/** Bytes whose SHA-256 must be `expected` (a v1 file named by its parent), else refused. */
export function verifySha256 (bytes: Buffer, expected: string, what: string): void {
  const actual = sha256Hex(bytes)
  if (actual !== expected.toLowerCase()) throw new UpstreamFormatError(`${what}: sha256 ${actual} does not match the ${expected} its parent names`)
}

/** Bytes whose SHA-1 must be `expected` (a Satis include named by its parent), else refused. */
export function verifySha1 (bytes: Buffer, expected: string, what: string): void {
  const actual = createHash('sha1').update(bytes).digest('hex')
  if (actual !== expected.toLowerCase()) throw new UpstreamFormatError(`${what}: sha1 ${actual} does not match the ${expected} its parent names`)
}

/** A v1 provider-includes file: package name → sha256 of its provider file. */
export function parseProviderIncludes (bytes: Buffer, expectedSha256: string, what: string): Map<string, string> {
  verifySha256(bytes, expectedSha256, what)
  const doc = parseJson(bytes, what)
  if (!isObject(doc) || !isObject(doc.providers)) throw new UpstreamFormatError(`${what} has no "providers" object`)
  const out = new Map<string, string>()
  for (const [name, info] of Object.entries(doc.providers)) {
    if (isObject(info) && typeof info.sha256 === 'string' && /^[0-9a-fA-F]{64}$/.test(info.sha256)) out.set(name.toLowerCase(), info.sha256.toLowerCase())
  }
  return out
}

/**
 * An answer of a metadata-changes-url feed, as packagist.org gives it. Without a (recent enough)
 * `since` it answers `{"error": "…", "timestamp": N}` (a 400); a `resync` action means the same:
 * start again from `timestamp`, asking each package on its own meanwhile. Otherwise
 * `{"actions": [{"type": "update"|"delete", "package": "vendor/name" or "vendor/name~dev", "time": …}], "timestamp": N}`:
 * the names changed since `since`, and where to ask from next.
 */
export type ChangesAnswer =
  | { kind: 'restart', timestamp: number }
  | { kind: 'changes', timestamp: number, updated: Set<string>, deleted: Set<string> }

export function parseChanges (bytes: Buffer | string, what: string): ChangesAnswer {
  const doc = parseJson(bytes, what)
  if (!isObject(doc)) throw new UpstreamFormatError(`${what} is not a JSON object`)
  const timestamp = typeof doc.timestamp === 'string' && /^\d+$/.test(doc.timestamp) ? Number(doc.timestamp) : doc.timestamp
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp <= 0) throw new UpstreamFormatError(`${what} has no "timestamp"`)
  if (doc.error !== undefined) return { kind: 'restart', timestamp }
  if (!Array.isArray(doc.actions)) throw new UpstreamFormatError(`${what} has neither "actions" nor "error"`)
  const updated = new Set<string>()
  const deleted = new Set<string>()
  for (const action of doc.actions) {
    if (!isObject(action)) continue
    if (action.type === 'resync') return { kind: 'restart', timestamp }
    if (typeof action.package !== 'string') continue
    const name = action.package.toLowerCase().replace(/~dev$/, '')
    // Anything but a delete (an update, or a type this reader does not know) is read again.
    if (action.type === 'delete') deleted.add(name)
    else updated.add(name)
  }
  for (const name of updated) deleted.delete(name)
  return { kind: 'changes', timestamp, updated, deleted }
}

/** The feed URL asking for the changes since `timestamp`, or (none yet) for a timestamp to start from. */
export function changesFeedUrl (changesUrl: string, timestamp: number | null): string {
  if (timestamp === null) return changesUrl
  const url = new URL(changesUrl)
  url.searchParams.set('since', String(timestamp))
  return url.toString()
}

/** The per-package URL of a v1 provider file. */
export function providerFileUrl (providersUrl: string, name: string, sha256: string): string {
  return providersUrl.replace('%package%', name).replace('%hash%', sha256)
}

/** The per-package URL of a v2 metadata file (`name` or `name~dev`). */
export function metadataFileUrl (metadataUrl: string, name: string): string {
  return metadataUrl.replace('%package%', name)
}

function toVersion (name: string, raw: Json): UpstreamVersion | undefined {
  const version = typeof raw.version === 'string' ? raw.version : undefined
  if (version === undefined) return undefined
  const versionNormalized = typeof raw.version_normalized === 'string' ? raw.version_normalized : normalizeVersion(version)
  if (versionNormalized === null || versionNormalized === undefined) return undefined
  const dist = isObject(raw.dist) ? raw.dist : undefined
  const distUrl = typeof dist?.url === 'string' ? dist.url : ''
  // A version without a dist (source only) cannot be mirrored as an archive: left out.
  if (distUrl === '') return undefined
  const distShasum = typeof dist?.shasum === 'string' ? dist.shasum.toLowerCase() : ''
  const metadata: Json = {}
  for (const [key, value] of Object.entries(raw)) {
    // Installs report to this repository's notify-batch, not upstream's; uid is v1 bookkeeping.
    if (key === 'notification-url' || key === 'uid' || value === null) continue
    metadata[key] = value
  }
  metadata.name = name
  metadata.version_normalized = versionNormalized
  return { version, versionNormalized, metadata, distUrl, distShasum }
}

/** A v2 p2 document (`{"packages": {name: [...]}, "minified": "composer/2.0"}`), expanded. */
export function parseV2Document (name: string, bytes: Buffer | string): UpstreamVersion[] {
  const doc = parseJson(bytes, `metadata of ${name}`)
  if (!isObject(doc) || !isObject(doc.packages)) throw new UpstreamFormatError(`metadata of ${name} has no "packages" object`)
  const list = doc.packages[name]
  if (list === undefined) return []
  if (!Array.isArray(list)) throw new UpstreamFormatError(`metadata of ${name}: packages["${name}"] is not a list`)
  const expanded = doc.minified === 'composer/2.0' ? expandMinified(list) : list.filter(isObject)
  return expanded.map((v) => toVersion(name, v)).filter((v): v is UpstreamVersion => v !== undefined)
}

/** A v1 provider file (`{"packages": {name: {version: {...}}}}`), checked against its sha256 first. */
export function parseV1Provider (name: string, bytes: Buffer, expectedSha256: string): UpstreamVersion[] {
  verifySha256(bytes, expectedSha256, `provider file of ${name}`)
  const doc = parseJson(bytes, `provider file of ${name}`)
  if (!isObject(doc) || !isObject(doc.packages)) throw new UpstreamFormatError(`provider file of ${name} has no "packages" object`)
  const versions = doc.packages[name]
  if (versions === undefined) return []
  if (!isObject(versions)) throw new UpstreamFormatError(`provider file of ${name}: packages["${name}"] is not an object of versions`)
  return Object.values(versions).filter(isObject).map((v) => toVersion(name, v)).filter((v): v is UpstreamVersion => v !== undefined)
}

/**
 * Vendor patterns (`vendor/*`) that cover a list of names and patterns an upstream advertises:
 * available-package-patterns only takes patterns, and listing vendors keeps Composer from asking
 * for names no upstream has.
 */
export function vendorPatterns (names: readonly string[], patterns: readonly string[]): string[] {
  const out = new Set<string>()
  for (const p of patterns) out.add(p.toLowerCase())
  for (const n of names) {
    const slash = n.indexOf('/')
    if (slash > 0) out.add(`${n.slice(0, slash).toLowerCase()}/*`)
  }
  return [...out].sort()
}

/** Composer's matching of available-package-patterns: case-insensitive, anchored, `*` matches anything. */
export function matchesPattern (name: string, pattern: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i')
  return re.test(name)
}
