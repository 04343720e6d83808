import type { FileHandle } from 'node:fs/promises'
import { access as fsAccess, constants } from 'node:fs/promises'
import path from 'node:path'
import type { Transactional } from '../repositories/transaction.js'
import type { ChangeCountersRepository } from '../repositories/changes.js'
import { createCatalogView, type ServedDocument } from './catalog-view.js'
import type { EncodedBody } from './encoded-body.js'
import type { PackagesRepository } from '../repositories/packages.js'
import type { Abandoned, Access, Entitlement, GrantRule, Package, VersionRecord } from '../domain/catalog.js'
import { stageOrExplain, type ArchiveStore } from '../repositories/archive-store.js'
import { errors } from '../errors.js'
import { buildPackageMetadata, distFileName } from '../composer/metadata.js'
import { normalizeVersion, sortVersionsDescending } from '../composer/version.js'
import { isValidPackageName, parseComposerJson } from '../composer/composer-json.js'
import { describeRule, describeUntil, limitingRuleOf, parseGrantRule, type GrantRuleInput } from './grant-rules.js'
import { readComposerJson, ZipManifestError } from './zip-manifest.js'
import type { Emit } from './webhooks.js'
import type { MirrorService } from './mirror.js'

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
export function createCatalogService (deps: { transaction: Transactional, packages: PackagesRepository, store: ArchiveStore, changes: ChangeCountersRepository, emit: Emit, maxDocumentBytes?: number, mirror?: MirrorService }) {
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

  /** Yanked versions are left out: no new resolve picks them, while their archives stay. */
  function rebuildMetadata (pkg: Package): void {
    const listed = packages.versions(pkg.id).filter((v) => v.yankedAt === null).map((v) => ({ ...v, name: pkg.name }))
    const docs = buildPackageMetadata(pkg.name, listed, { abandoned: pkg.abandoned })
    packages.saveMetadata(pkg.id, docs.stable, docs.dev, nextUpdatedAt(pkg.metadataUpdatedAt))
  }

  /**
   * Moves Last-Modified without changing the stored documents: after a grant's rule changes,
   * an account's filtered document differs, and a client holding the old one must not get a 304.
   */
  function touchMetadata (pkg: Package): void {
    packages.touchMetadata(pkg.id, nextUpdatedAt(pkg.metadataUpdatedAt))
  }

  function validVendor (vendor: string): string {
    const lower = vendor.toLowerCase()
    if (!isValidPackageName(`${lower}/x`)) throw errors.badRequest(`invalid vendor "${vendor}": use the vendor part of a package name, e.g. acme for acme/*`)
    return lower
  }

  function findVersionOf (pkg: Package, version: string): VersionRecord {
    const normalized = normalizeVersion(version)
    const found = (normalized === null ? undefined : packages.findVersion(pkg.id, normalized)) ??
      packages.versions(pkg.id).find((v) => v.version === version || v.versionNormalized === version)
    if (found === undefined) throw errors.notFound(`version ${version} of ${pkg.name}`)
    return found
  }

  const setYanked = transaction((name: string, version: string, yanked: boolean): { name: string, version: string, versionNormalized: string, yanked: boolean, yankedAt: string | null } => {
    const pkg = getPackage(name)
    const v = findVersionOf(pkg, version)
    const yankedAt = yanked ? (v.yankedAt ?? new Date().toISOString()) : null
    if ((v.yankedAt !== null) !== yanked) {
      packages.setYanked(v.id, yankedAt)
      rebuildMetadata(pkg)
      emit('package.yanked', { name: pkg.name, version: v.version, versionNormalized: v.versionNormalized, yanked })
    }
    return { name: pkg.name, version: v.version, versionNormalized: v.versionNormalized, yanked, yankedAt }
  })

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

  /** See `metadata`; `path`: remember the answer under this request path (see `metadataAt`). */
  function metadataOf (accountId: number, name: string, dev: boolean, baseUrl: string, path?: string): ServedDocument | undefined {
    const pkg = view.package(name)
    // A local package of this name, visible or not, shadows every upstream completely (dependency confusion).
    if (pkg === undefined) return deps.mirror?.document(accountId, name, dev, baseUrl)
    const e = view.entitlement(accountId, name)
    if (e === undefined) return undefined
    return view.document(pkg, dev, baseUrl, limitingRuleOf(e) ?? undefined, path === undefined ? undefined : { accountId, path })
  }

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
    /** Grants a package, or replaces the rule of an existing grant. Throws 400 for a bad constraint, date or stability. */
    grant: transaction((accountId: number, name: string, input: GrantRuleInput = {}): { package: Package, rule: GrantRule } => {
      const rule = parseGrantRule(input)
      const pkg = getPackage(name)
      packages.grant(accountId, pkg.id, rule)
      touchMetadata(pkg)
      return { package: pkg, rule }
    }),
    revoke: transaction((accountId: number, name: string): Package => {
      const pkg = getPackage(name)
      packages.revoke(accountId, pkg.id)
      touchMetadata(pkg)
      return pkg
    }),
    /** A `vendor/*` grant: every package of the vendor, present and future. No package needs to exist yet. */
    grantVendor: transaction((accountId: number, vendor: string, input: GrantRuleInput = {}): { vendor: string, rule: GrantRule } => {
      const rule = parseGrantRule(input)
      const v = validVendor(vendor)
      packages.grantVendor(accountId, v, rule)
      for (const pkg of packages.packagesOfVendor(v)) touchMetadata(pkg)
      return { vendor: v, rule }
    }),
    revokeVendor: transaction((accountId: number, vendor: string): string => {
      const v = validVendor(vendor)
      packages.revokeVendor(accountId, v)
      for (const pkg of packages.packagesOfVendor(v)) touchMetadata(pkg)
      return v
    }),
    /** The package and vendor grants an account holds, with their rules. */
    grantsOf (accountId: number): Array<{ kind: 'package' | 'vendor', target: string, rule: GrantRule, createdAt: string }> {
      return [
        ...packages.vendorGrantsOf(accountId).map((g) => ({ kind: 'vendor' as const, target: `${g.vendor}/*`, rule: g.rule, createdAt: g.createdAt })),
        ...packages.grantsOf(accountId).map((g) => ({ kind: 'package' as const, target: g.name, rule: g.rule, createdAt: g.createdAt }))
      ]
    },
    /** Yanked: out of the metadata (no new resolve picks it), archive kept for lock files. */
    yank: (name: string, version: string) => setYanked(name, version, true),
    unyank: (name: string, version: string) => setYanked(name, version, false),
    /** Abandoned (true or a replacement's name) or maintained again (false): Composer warns on install. */
    setAbandoned: transaction((name: string, abandoned: Abandoned): { name: string, abandoned: Abandoned } => {
      const pkg = getPackage(name)
      if (typeof abandoned === 'string') {
        const replacement = abandoned.toLowerCase()
        if (!isValidPackageName(replacement)) throw errors.badRequest(`invalid replacement "${abandoned}": use a package name such as acme/widget-ng`)
        abandoned = replacement
      }
      packages.setAbandoned(pkg.id, abandoned)
      rebuildMetadata({ ...pkg, abandoned })
      return { name: pkg.name, abandoned }
    }),
    /** One package for the operator: access, abandoned, and every version with its yanked state. */
    describe (name: string): { name: string, access: Access, abandoned: Abandoned, versions: Array<{ version: string, versionNormalized: string, releasedAt: string, yanked: boolean, downloads: number }> } {
      const pkg = getPackage(name)
      return {
        name: pkg.name,
        access: pkg.access,
        abandoned: pkg.abandoned,
        versions: sortVersionsDescending(packages.versions(pkg.id), (v) => v.versionNormalized)
          .map((v) => ({ version: v.version, versionNormalized: v.versionNormalized, releasedAt: v.releasedAt, yanked: v.yankedAt !== null, downloads: v.downloads }))
      }
    },
    /** What an account can install, with why: for the account's "My packages" page. */
    installable (accountId: number): Array<{ name: string, via: Entitlement['via'], rule: GrantRule | null, reason: string, versions: string[], abandoned: Abandoned }> {
      const out = []
      for (const [name, e] of view.entitlements(accountId)) {
        const pkg = view.package(name)
        if (pkg === undefined) continue
        const rule = limitingRuleOf(e)
        const versions = sortVersionsDescending(view.listedVersions(pkg, e), (v) => v.versionNormalized).map((v) => v.version)
        if (versions.length === 0) continue
        const granted = e.via === 'vendor' ? `granted (all ${name.split('/')[0]!}/* packages)` : 'granted'
        const reason = e.via === 'public'
          ? 'public'
          : rule === null
            ? granted
            : rule.updatesUntil !== null && rule.constraint === null && rule.minimumStability === null
              ? `${granted} until ${describeUntil(rule.updatesUntil)}`
              : `${granted}: ${describeRule(rule)}`
        out.push({ name, via: e.via, rule, reason, versions, abandoned: pkg.abandoned })
      }
      return out
    },
    /** Whether a local package of this name exists (it shadows every upstream), from memory. */
    isLocal (name: string): boolean {
      return view.package(name) !== undefined
    },
    /** The names this account may install (available-packages), from memory. */
    visibleNames (accountId: number): string[] {
      const local = view.visibleNames(accountId)
      // Mirrored upstream names, minus every name a local package has (services/mirror.ts).
      if (deps.mirror?.contributes(accountId) !== true) return local
      return [...local, ...deps.mirror.visibleNames(accountId, local, (n) => view.package(n) !== undefined)].sort()
    },
    /** packages.json for this account, prebuilt bytes. */
    root (accountId: number, baseUrl: string): EncodedBody {
      if (deps.mirror?.contributes(accountId) === true) return deps.mirror.root(accountId, baseUrl, view.visibleNames(accountId), (n) => view.package(n) !== undefined)
      return view.root(accountId, baseUrl)
    },
    /** The p2 document for an account, or undefined when it does not exist or is not visible (both answer 404). */
    metadata (accountId: number, name: string, dev: boolean, baseUrl: string): ServedDocument | undefined {
      return metadataOf(accountId, name, dev, baseUrl)
    },
    /**
     * `metadata` for a request path (`/p2/vendor/name.json`, parsed by `target` only when
     * needed): a path this account asked before, for the same base URL, is answered with one
     * lookup while the catalog is unchanged (the view drops what it remembers when the
     * catalog counter moves). Documents of mirrored packages are not remembered: they follow
     * their upstream's freshness, not the catalog counter.
     */
    metadataAt (accountId: number, path: string, baseUrl: string, target: (path: string) => { name: string, dev: boolean } | undefined): ServedDocument | undefined {
      const known = view.rememberedPath(accountId, path, baseUrl)
      if (known !== undefined) return known
      const t = target(path)
      return t === undefined ? undefined : metadataOf(accountId, t.name, t.dev, baseUrl, path)
    },
    /**
     * A dist archive: 404 when unknown, 403 when the package exists but the account has no
     * grant, or its grant does not cover this version. Yanked versions stay downloadable.
     */
    archive (accountId: number, name: string, distFile: string): VersionRecord {
      const pkg = view.package(name)
      const version = pkg === undefined ? undefined : view.versionByFile(pkg, distFile)
      if (pkg === undefined || version === undefined) throw errors.notFound(`archive ${name}/${distFile}`)
      const e = view.entitlement(accountId, name)
      if (e === undefined) throw errors.forbidden(`Your account has no access to ${name}. Ask the vendor for a grant.`)
      if (!view.opens(e, version)) {
        throw errors.forbidden(`Your licence for ${name} does not include version ${version.version} (it covers ${describeRule(limitingRuleOf(e)!)}). Ask the vendor to extend it.`)
      }
      return version
    },
    /** The bytes of an archive that `archive` allowed, or a byte range of them. */
    openArchive (version: VersionRecord): Promise<FileHandle> {
      return store.open(version.sha256)
    },
    cacheStats: view.stats,
    recordDownloads: transaction((accountId: number, downloads: Array<{ name: string, version: string }>): number => {
      let counted = 0
      for (const d of downloads) {
        const pkg = packages.findByName(d.name.toLowerCase())
        if (pkg === undefined || !packages.isVisible(pkg, accountId)) continue
        const version = packages.findVersion(pkg.id, d.version)
        if (version === undefined) continue
        packages.countDownload(pkg.id, d.version)
        packages.countAccountDownload(accountId, version.id)
        counted++
      }
      return counted
    }),
    /** Composer's search: name or the newest version's description, first 100 by name. */
    search (accountId: number, query: string): Array<{ name: string, description: string | null, type: string, downloads: number, abandoned: Abandoned }> {
      const needle = query.toLowerCase()
      const results = []
      const listed = view.entitlements(accountId)
      for (const c of packages.searchCandidates(accountId, query)) {
        // Only what this account is listed for, described by the versions its grant opens.
        const e = listed.get(c.name)
        const pkg = e === undefined ? undefined : view.package(c.name)
        if (pkg === undefined) continue
        const open = limitingRuleOf(e!) === null ? undefined : new Set(view.listedVersions(pkg, e!).map((v) => v.versionNormalized))
        const versions = open === undefined ? c.versions : c.versions.filter((v) => open.has(v.versionNormalized))
        const newest = sortVersionsDescending(versions, (v) => v.versionNormalized)[0]
        const description = newest?.description ?? null
        if (!`${c.name} ${description ?? ''}`.toLowerCase().includes(needle)) continue
        results.push({ name: c.name, description, type: newest?.type ?? 'library', downloads: c.downloads, abandoned: pkg.abandoned })
        if (results.length === SEARCH_LIMIT) break
      }
      return results
    }
  }
}

export type CatalogService = ReturnType<typeof createCatalogService>
