import { access as fsAccess, constants } from 'node:fs/promises'
import path from 'node:path'
import type { Db } from '../db/database.js'
import type { Access, Package, PackagesRepository, VersionRecord } from '../repositories/packages.js'
import { stageOrExplain, type ArchiveStore } from '../repositories/archive-store.js'
import { errors } from '../errors.js'
import { buildPackageMetadata, distFileName, MANIFEST_FIELDS, withBaseUrl } from '../composer/metadata.js'
import { normalizeVersion, sortVersionsDescending } from '../composer/version.js'
import { readComposerJson, ZipManifestError } from './zip-manifest.js'

/** Composer's own package name rule (ValidatingArrayLoader). */
const PACKAGE_NAME = /^[a-z0-9]([_.-]?[a-z0-9]+)*\/[a-z0-9](([_.]|-{1,2})?[a-z0-9]+)*$/
const LINK_FIELDS = ['require', 'require-dev', 'conflict', 'replace', 'provide', 'suggest'] as const

export interface PublishResult {
  name: string
  version: string
  versionNormalized: string
  shasum: string
  /** False when the same bytes were already published under this version (a no-op). */
  created: boolean
}

export function isValidPackageName (name: string): boolean {
  return name.length <= 214 && PACKAGE_NAME.test(name)
}

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function parseComposerJson (file: string, raw: string, versionOverride: string | undefined) {
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

/**
 * Packages, versions, access and grants: publishing, and the Composer metadata built
 * from them. Metadata is rebuilt in the same transaction as the change that affects it.
 */
export function createCatalogService (deps: { db: Db, packages: PackagesRepository, store: ArchiveStore }) {
  const { db, packages, store } = deps
  const served = new Map<string, { updatedAt: number, doc: string | null, byBase: Map<string, Buffer> }>()
  const visible = new Map<number, { revision: number, names: string[] }>()

  function nextUpdatedAt (previous: number): number {
    return Math.max(Math.floor(Date.now() / 1000), previous + 1)
  }

  function rebuildMetadata (pkg: Package): void {
    const docs = buildPackageMetadata(pkg.name, packages.versions(pkg.id).map((v) => ({ ...v, name: pkg.name })))
    packages.saveMetadata(pkg.id, docs.stable, docs.dev, nextUpdatedAt(pkg.metadataUpdatedAt))
  }

  function getPackage (name: string): Package {
    const pkg = packages.findByName(name.toLowerCase())
    if (pkg === undefined) throw errors.notFound(`package "${name}"`)
    return pkg
  }

  const insertVersion = db.transaction((input: {
    name: string
    access: Access | undefined
    version: string
    versionNormalized: string
    manifest: Record<string, unknown>
    shasum: string
    sha256: string
    size: number
    releasedAt: string
  }): boolean => {
    let pkg = packages.findByName(input.name)
    if (pkg === undefined) {
      pkg = packages.insert(input.name, input.access ?? 'restricted', 0)
    } else if (input.access !== undefined && input.access !== pkg.access) {
      packages.setAccess(pkg.id, input.access)
    }
    const existing = packages.findVersion(pkg.id, input.versionNormalized)
    if (existing !== undefined) {
      if (existing.shasum === input.shasum) return false
      throw errors.versionConflict(input.name, input.version)
    }
    let distFile = distFileName(input.name, input.versionNormalized)
    if (packages.findVersionByDistFile(pkg.id, distFile) !== undefined) {
      distFile = distFile.replace(/\.zip$/, `-${input.shasum.slice(0, 8)}.zip`)
    }
    packages.insertVersion(pkg.id, { ...input, distFile })
    rebuildMetadata(pkg)
    return true
  })

  const setAccess = db.transaction((name: string, access: Access): Package => {
    const pkg = getPackage(name)
    packages.setAccess(pkg.id, access)
    // Entitlements changed: bump Last-Modified so no client keeps a stale 304.
    rebuildMetadata(pkg)
    return { ...pkg, access }
  })

  return {
    /**
     * Publishes one archive. The bytes are staged and hashed, composer.json is read from
     * the staged copy, the file is moved to its content address, and only then is the
     * version row committed together with the rebuilt metadata.
     */
    async publish (file: string, opts: { access?: Access | undefined, version?: string | undefined } = {}): Promise<PublishResult> {
      const label = path.basename(file)
      try {
        await fsAccess(file, constants.R_OK)
      } catch (err) {
        throw errors.invalidArchive(label, `cannot read file (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
      }
      const staged = await stageOrExplain(store, file, (detail) => errors.invalidArchive(label, detail))
      let parsed: ReturnType<typeof parseComposerJson>
      try {
        let raw: string
        try {
          raw = await readComposerJson(staged.tempPath)
        } catch (err) {
          if (err instanceof ZipManifestError) throw errors.invalidArchive(label, err.message)
          throw err
        }
        parsed = parseComposerJson(label, raw, opts.version)
      } catch (err) {
        await store.discard(staged)
        throw err
      }
      const result = { name: parsed.name, version: parsed.version, versionNormalized: parsed.versionNormalized, shasum: staged.sha1 }
      const existing = packages.findByName(parsed.name)
      const known = existing === undefined ? undefined : packages.findVersion(existing.id, parsed.versionNormalized)
      if (known !== undefined) {
        await store.discard(staged)
        if (known.shasum !== staged.sha1) throw errors.versionConflict(parsed.name, parsed.version)
        if (opts.access !== undefined && existing !== undefined && existing.access !== opts.access) setAccess(parsed.name, opts.access)
        return { ...result, created: false }
      }
      // The file goes in before the row. If the insert then fails, the file stays: another
      // process may have committed a row for the same bytes meanwhile, and an orphan file is
      // harmless while a row without its file breaks `composer install`.
      await store.commit(staged)
      const created = insertVersion({
        ...parsed,
        access: opts.access,
        shasum: staged.sha1,
        sha256: staged.sha256,
        size: staged.size,
        releasedAt: new Date().toISOString()
      })
      return { ...result, created }
    },
    list (): Array<{ name: string, access: Access, versions: string[] }> {
      return packages.list().map((p) => ({
        name: p.name,
        access: p.access,
        versions: sortVersionsDescending(packages.versions(p.id), (v) => v.versionNormalized).map((v) => v.version)
      }))
    },
    get: getPackage,
    setAccess,
    grant (accountId: number, name: string): Package {
      const pkg = getPackage(name)
      packages.grant(accountId, pkg.id)
      return pkg
    },
    revoke (accountId: number, name: string): Package {
      const pkg = getPackage(name)
      packages.revoke(accountId, pkg.id)
      return pkg
    },
    /** Cached per account until the catalogue revision moves (publish, access, grant, revoke). */
    visibleNames (accountId: number): string[] {
      const revision = packages.revision()
      const cached = visible.get(accountId)
      if (cached !== undefined && cached.revision === revision) return cached.names
      if (visible.size > 10_000) visible.clear()
      const names = packages.visibleNames(accountId)
      visible.set(accountId, { revision, names })
      return names
    },
    /** The p2 document for an account, or undefined when it does not exist or is not visible (both answer 404). */
    metadata (accountId: number, name: string, dev: boolean, baseUrl: string): { body: Buffer, updatedAt: number } | undefined {
      const pkg = packages.findByName(name)
      if (pkg === undefined || !packages.isVisible(pkg, accountId)) return undefined
      const cacheKey = `${pkg.id}:${dev ? 'dev' : 'stable'}`
      let entry = served.get(cacheKey)
      if (entry === undefined || entry.updatedAt !== pkg.metadataUpdatedAt) {
        const stored = packages.metadata(pkg.id)
        if (stored === undefined) return undefined
        if (served.size > 10_000) served.clear()
        entry = { updatedAt: stored.updatedAt, doc: dev ? stored.dev : stored.stable, byBase: new Map() }
        served.set(cacheKey, entry)
      }
      if (entry.doc === null) return undefined
      let body = entry.byBase.get(baseUrl)
      if (body === undefined) {
        // Kept as bytes: the hot path then sends them without another copy.
        body = Buffer.from(withBaseUrl(entry.doc, baseUrl))
        // Bounded: without PACKYARD_PUBLIC_URL every Host header a client sends is a base URL.
        if (entry.byBase.size < 4) entry.byBase.set(baseUrl, body)
      }
      return { body, updatedAt: entry.updatedAt }
    },
    /** A dist archive: 404 when unknown, 403 when the package exists but the account has no grant. */
    archive (accountId: number, name: string, distFile: string): VersionRecord {
      const pkg = packages.findByName(name)
      const version = pkg === undefined ? undefined : packages.findVersionByDistFile(pkg.id, distFile)
      if (pkg === undefined || version === undefined) throw errors.notFound(`archive ${name}/${distFile}`)
      if (!packages.isVisible(pkg, accountId)) throw errors.forbidden(`Your account has no access to ${name}. Ask the vendor for a grant.`)
      return version
    },
    recordDownloads: db.transaction((accountId: number, downloads: Array<{ name: string, version: string }>): number => {
      let counted = 0
      for (const d of downloads) {
        const pkg = packages.findByName(d.name.toLowerCase())
        if (pkg === undefined || !packages.isVisible(pkg, accountId)) continue
        if (packages.findVersion(pkg.id, d.version) === undefined) continue
        packages.countDownload(pkg.id, d.version)
        counted++
      }
      return counted
    }),
    search (accountId: number, query: string) {
      return packages.search(accountId, query)
    }
  }
}

export type CatalogService = ReturnType<typeof createCatalogService>
