/**
 * Composer v2 metadata documents, built once per change and stored. Pure: no I/O.
 * Dist URLs carry a placeholder for the base URL, filled in when served, so one stored
 * document serves every host name and any configured public URL.
 */
import { isDevVersion, sortVersionsDescending } from './version.js'

export const BASE_URL_TOKEN = '%%PACKYARD_BASE_URL%%'

/** composer.json fields Composer installs from, in the order Packagist emits them. */
export const MANIFEST_FIELDS = [
  'description', 'keywords', 'homepage', 'license', 'authors', 'type', 'support', 'funding',
  'autoload', 'autoload-dev', 'include-path', 'target-dir', 'extra', 'bin', 'notification-url',
  'require', 'require-dev', 'conflict', 'replace', 'provide', 'suggest', 'abandoned', 'archive', 'default-branch'
] as const

export interface PublishedVersion {
  name: string
  version: string
  versionNormalized: string
  distFile: string
  shasum: string
  manifest: Record<string, unknown>
  releasedAt: string
}

export function distPath (name: string, distFile: string): string {
  return `/archives/${name}/${distFile}`
}

/** A file name for the archive: <vendor>-<name>-<version_normalized>.zip, as repo.magento.com names them. */
export function distFileName (name: string, versionNormalized: string): string {
  const safe = versionNormalized.replace(/[^A-Za-z0-9._-]+/g, '-')
  return `${name.replace('/', '-')}-${safe}.zip`
}

/**
 * Set by the operator for the whole package: Composer warns on install and names the
 * replacement (`true` or `"vendor/replacement"`); false keeps what each composer.json says.
 */
export interface PackageFlags { abandoned?: boolean | string }

export function versionDocument (v: PublishedVersion, flags: PackageFlags = {}): Record<string, unknown> {
  const doc: Record<string, unknown> = { name: v.name, version: v.version, version_normalized: v.versionNormalized }
  for (const field of MANIFEST_FIELDS) {
    const value = field === 'abandoned' && flags.abandoned !== undefined && flags.abandoned !== false ? flags.abandoned : v.manifest[field]
    // Composer's minifier uses isset(): a null value would behave oddly, so it is left out.
    if (value !== undefined && value !== null) doc[field] = value
  }
  doc.dist = { type: 'zip', url: `${BASE_URL_TOKEN}${distPath(v.name, v.distFile)}`, reference: v.shasum, shasum: v.shasum }
  doc.time = v.releasedAt
  return doc
}

/** The composer/2.0 minifier: each entry holds only the top-level keys that differ from the previous one. */
export function minify (versions: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  let previous: Record<string, unknown> | undefined
  for (const current of versions) {
    if (previous === undefined) {
      out.push(current)
    } else {
      const diff: Record<string, unknown> = {}
      for (const [key, value] of Object.entries(current)) {
        if (JSON.stringify(previous[key]) !== JSON.stringify(value)) diff[key] = value
      }
      for (const key of Object.keys(previous)) {
        if (!(key in current)) diff[key] = '__unset'
      }
      out.push(diff)
    }
    previous = current
  }
  return out
}

function document (name: string, versions: PublishedVersion[], flags: PackageFlags): string | null {
  if (versions.length === 0) return null
  const sorted = sortVersionsDescending(versions, (v) => v.versionNormalized)
  return JSON.stringify({ minified: 'composer/2.0', packages: { [name]: minify(sorted.map((v) => versionDocument(v, flags))) } })
}

/**
 * The two p2 files of a package: tagged versions in <name>.json, dev versions in <name>~dev.json.
 * `versions` are the ones to list: yanked versions and versions outside a grant are left out by the caller.
 */
export function buildPackageMetadata (name: string, versions: PublishedVersion[], flags: PackageFlags = {}): { stable: string | null, dev: string | null } {
  return {
    stable: document(name, versions.filter((v) => !isDevVersion(v.version)), flags),
    dev: document(name, versions.filter((v) => isDevVersion(v.version)), flags)
  }
}

/** Fills the base URL into a stored document. JSON-escapes it so any URL stays valid JSON. */
export function withBaseUrl (doc: string, baseUrl: string): string {
  return doc.replaceAll(BASE_URL_TOKEN, JSON.stringify(baseUrl).slice(1, -1))
}

/**
 * The repository root (packages.json) for one account: docs/composer-protocol.md §1.2-1.3.
 * An empty available-packages list counts as absent for Composer, which would then ask for
 * every name, so an account that sees nothing gets a pattern that matches no package.
 */
export function rootDocument (baseUrl: string, visibleNames: readonly string[], patterns: readonly string[] = []): Record<string, unknown> {
  const root: Record<string, unknown> = {
    packages: {},
    'metadata-url': `${baseUrl}/p2/%package%.json`,
    'notify-batch': `${baseUrl}/downloads/`,
    search: `${baseUrl}/search.json?q=%query%&type=%type%`,
    // composer audit POSTs the installed names here (docs/composer-protocol.md §6.5); the p2
    // files carry no advisories, so `metadata` is false and every audit asks the API.
    'security-advisories': { metadata: false, 'api-url': `${baseUrl}/api/security-advisories/` }
  }
  if (visibleNames.length > 0) root['available-packages'] = visibleNames
  // Lazy upstreams (services/mirror.ts) add vendor patterns: names fetched on first request.
  if (patterns.length > 0) root['available-package-patterns'] = patterns
  else if (visibleNames.length === 0) root['available-package-patterns'] = ['-/-']
  return root
}
