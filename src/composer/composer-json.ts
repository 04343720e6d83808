import { errors } from '../errors.js'
import { MANIFEST_FIELDS } from './metadata.js'
import { normalizeVersion } from './version.js'

/** Composer's own package name rule (ValidatingArrayLoader). */
const PACKAGE_NAME = /^[a-z0-9]([_.-]?[a-z0-9]+)*\/[a-z0-9](([_.]|-{1,2})?[a-z0-9]+)*$/
const LINK_FIELDS = ['require', 'require-dev', 'conflict', 'replace', 'provide', 'suggest'] as const

export function isValidPackageName (name: string): boolean {
  return name.length <= 214 && PACKAGE_NAME.test(name)
}

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * Validates a composer.json as Composer would load it for a repository, and keeps the fields
 * that go into metadata. `versionOverride` (from --version or an upload URL) wins over "version".
 */
export function parseComposerJson (file: string, raw: string, versionOverride: string | undefined) {
  let json: unknown
  try {
    json = JSON.parse(raw.replace(/^\uFEFF/, ''))
  } catch (err) {
    throw errors.invalidComposerJson(file, `is not valid JSON (${(err as Error).message})`)
  }
  if (!isPlainObject(json)) throw errors.invalidComposerJson(file, 'must be a JSON object')
  if (typeof json.name !== 'string') throw errors.invalidComposerJson(file, 'has no "name"')
  if (!isValidPackageName(json.name)) throw errors.invalidPackageName(json.name)
  const version = versionOverride ?? json.version
  if (typeof version !== 'string' || version.trim() === '') {
    throw errors.invalidComposerJson(file, 'has no "version": add one or pass --version')
  }
  const versionNormalized = normalizeVersion(version)
  if (versionNormalized === null) throw errors.invalidVersion(version)
  for (const field of LINK_FIELDS) {
    const links = json[field]
    if (links === undefined) continue
    if (Array.isArray(links) && links.length === 0) continue
    if (!isPlainObject(links) || !Object.values(links).every((c) => typeof c === 'string')) {
      throw errors.invalidComposerJson(file, `"${field}" must map package names to constraint strings`)
    }
  }
  for (const field of ['autoload', 'autoload-dev', 'extra'] as const) {
    if (json[field] !== undefined && !isPlainObject(json[field]) && !(Array.isArray(json[field]) && (json[field] as unknown[]).length === 0)) {
      throw errors.invalidComposerJson(file, `"${field}" must be an object`)
    }
  }
  if (json.type !== undefined && typeof json.type !== 'string') throw errors.invalidComposerJson(file, '"type" must be a string')
  const bin = json.bin
  if (bin !== undefined && typeof bin !== 'string' && !(Array.isArray(bin) && bin.every((b) => typeof b === 'string'))) {
    throw errors.invalidComposerJson(file, '"bin" must be a string or a list of strings')
  }
  const manifest: Record<string, unknown> = {}
  for (const field of MANIFEST_FIELDS) {
    const value = json[field]
    // PHP encodes an empty object as [], which Composer accepts for links; keep objects as objects.
    if (value !== undefined && value !== null) manifest[field] = Array.isArray(value) && value.length === 0 && field !== 'keywords' && field !== 'authors' && field !== 'license' && field !== 'bin' && field !== 'funding' ? {} : value
  }
  return { name: json.name, version: version.trim(), versionNormalized, manifest }
}
