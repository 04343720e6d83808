import type { ReadStream } from 'node:fs'
import { access as fsAccess, constants } from 'node:fs/promises'
import path from 'node:path'
import type { Transactional } from '../repositories/transaction.js'
import type { ChangeCountersRepository } from '../repositories/changes.js'
import { createCatalogView } from './catalog-view.js'
import type { EncodedBody } from './encoded-body.js'
import type { PackagesRepository } from '../repositories/packages.js'
import type { Access, Package, VersionRecord } from '../domain/catalog.js'
import { stageOrExplain, type ArchiveStore } from '../repositories/archive-store.js'
import { errors } from '../errors.js'
import { buildPackageMetadata, distFileName } from '../composer/metadata.js'
import { sortVersionsDescending } from '../composer/version.js'
import { parseComposerJson } from '../composer/composer-json.js'
import { readComposerJson, ZipManifestError } from './zip-manifest.js'
import type { Emit } from './webhooks.js'

export interface PublishResult {
  name: string
  version: string
  versionNormalized: string
  shasum: string
  /** False when the same bytes were already published under this version (a no-op). */
  created: boolean
}

/** Composer's search shows one page; more results than this say "refine the query". */
const SEARCH_LIMIT = 100

/**
 * Packages, versions, access and grants: publishing, and the Composer metadata built
 * from them. Metadata is rebuilt in the same transaction as the change that affects it.
 */
export function createCatalogService (deps: { transaction: Transactional, packages: PackagesRepository, store: ArchiveStore, changes: ChangeCountersRepository, emit: Emit, maxDocumentBytes?: number }) {
  const { packages, store, changes, emit } = deps
  const view = createCatalogView({ packages, changes, maxDocumentBytes: deps.maxDocumentBytes })
  // A write by this process is seen by the next read at once, even within the same event-loop
  // iteration (other processes' writes are seen from the next iteration: see changes.ts).
  const transaction: Transactional = (fn) => {
    const inTransaction = deps.transaction(fn)
    return (...args) => {
      try {
        return inTransaction(...args)
      } finally {
        changes.invalidate()
      }
    }
  }

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

  const insertVersion = transaction((input: {
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
      emit('package.access_changed', { name: pkg.name, access: input.access, previousAccess: pkg.access })
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
    emit('package.published', { name: pkg.name, version: input.version, versionNormalized: input.versionNormalized, sha256: input.sha256, access: input.access ?? pkg.access })
    return true
  })

  const setAccess = transaction((name: string, access: Access): Package => {
    const pkg = getPackage(name)
    packages.setAccess(pkg.id, access)
    // Entitlements changed: bump Last-Modified so no client keeps a stale 304.
    rebuildMetadata(pkg)
    if (access !== pkg.access) emit('package.access_changed', { name: pkg.name, access, previousAccess: pkg.access })
    return { ...pkg, access }
  })

  return {
    /**
     * Publishes one archive. The bytes are staged and hashed, composer.json is read from
     * the staged copy, the file is moved to its content address, and only then is the
     * version row committed together with the rebuilt metadata. `accept` sees the archive's
     * package name before anything is stored and throws to refuse it (an upload URL naming
     * another package, an API token limited to other packages).
     */
    async publish (file: string, opts: { access?: Access | undefined, version?: string | undefined, accept?: ((name: string) => void) | undefined } = {}): Promise<PublishResult> {
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
        opts.accept?.(parsed.name)
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
    exists: (name: string): boolean => packages.findByName(name.toLowerCase()) !== undefined,
    setAccess,
    grant: transaction((accountId: number, name: string): Package => {
      const pkg = getPackage(name)
      packages.grant(accountId, pkg.id)
      return pkg
    }),
    revoke: transaction((accountId: number, name: string): Package => {
      const pkg = getPackage(name)
      packages.revoke(accountId, pkg.id)
      return pkg
    }),
    /** The names this account may install (available-packages), from memory. */
    visibleNames (accountId: number): string[] {
      return view.visibleNames(accountId)
    },
    /** packages.json for this account, prebuilt bytes. */
    root (accountId: number, baseUrl: string): EncodedBody {
      return view.root(accountId, baseUrl)
    },
    /** The p2 document for an account, or undefined when it does not exist or is not visible (both answer 404). */
    metadata (accountId: number, name: string, dev: boolean, baseUrl: string): { body: EncodedBody, updatedAt: number, lastModified: string } | undefined {
      const pkg = view.visiblePackage(accountId, name)
      return pkg === undefined ? undefined : view.document(pkg, dev, baseUrl)
    },
    /** A dist archive: 404 when unknown, 403 when the package exists but the account has no grant. */
    archive (accountId: number, name: string, distFile: string): VersionRecord {
      const pkg = view.package(name)
      const version = pkg === undefined ? undefined : view.versionByFile(pkg, distFile)
      if (pkg === undefined || version === undefined) throw errors.notFound(`archive ${name}/${distFile}`)
      if (view.visiblePackage(accountId, name) === undefined) throw errors.forbidden(`Your account has no access to ${name}. Ask the vendor for a grant.`)
      return version
    },
    /** The bytes of an archive that `archive` allowed, or a byte range of them. */
    openArchive (version: VersionRecord, read?: { start?: number, end?: number, highWaterMark?: number }): ReadStream {
      return store.open(version.sha256, read)
    },
    cacheStats: view.stats,
    recordDownloads: transaction((accountId: number, downloads: Array<{ name: string, version: string }>): number => {
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
    /** Composer's search: name or the newest version's description, first 100 by name. */
    search (accountId: number, query: string): Array<{ name: string, description: string | null, type: string, downloads: number }> {
      const needle = query.toLowerCase()
      const results = []
      for (const c of packages.searchCandidates(accountId, query)) {
        const newest = sortVersionsDescending(c.versions, (v) => v.versionNormalized)[0]
        const description = newest?.description ?? null
        if (!`${c.name} ${description ?? ''}`.toLowerCase().includes(needle)) continue
        results.push({ name: c.name, description, type: newest?.type ?? 'library', downloads: c.downloads })
        if (results.length === SEARCH_LIMIT) break
      }
      return results
    }
  }
}

export type CatalogService = ReturnType<typeof createCatalogService>
