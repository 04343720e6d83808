import type { Entitlement, GrantRule, Package, VersionRecord } from '../domain/catalog.js'
import type { ChangeCountersRepository } from '../repositories/changes.js'
import type { PackagesRepository } from '../repositories/packages.js'
import { buildPackageMetadata, rootDocument, withBaseUrl } from '../composer/metadata.js'
import { encodedBody, type EncodedBody } from './encoded-body.js'
import { compileRule, limitingRuleOf, ruleKey, type RuledVersion } from './grant-rules.js'

/** A prebuilt p2 document (stable or ~dev) of one package, as bytes per base URL. */
interface DocEntry {
  updatedAt: number
  /** updatedAt as an HTTP date, for Last-Modified. */
  lastModified: string
  /** The stored document with its base-URL placeholder; null when that half has no versions. */
  doc: string | null
  byBase: Map<string, EncodedBody>
}

/** A p2 answer: the bytes and their timestamps. */
export interface ServedDocument {
  body: EncodedBody
  updatedAt: number
  lastModified: string
}

interface AccountView {
  names: string[]
  /** The listed packages and how this account sees each. */
  visible: Map<string, Entitlement>
  roots: Map<string, EncodedBody>
  /**
   * Answered p2 requests by request path (`/p2/vendor/name.json`), with the base URL the
   * bytes were built for: the next request for that path is one Map lookup, instead of
   * parsing the path and looking up the package, the entitlement and the document again.
   * Dropped with the rest of the view when the catalog counter moves, and when documents are
   * evicted (so it never keeps an evicted document alive).
   */
  paths: Map<string, { baseUrl: string, doc: ServedDocument }>
}

export interface CatalogViewOptions {
  packages: PackagesRepository
  changes: ChangeCountersRepository
  /** Bytes of prebuilt documents kept (uncompressed plus compressed forms). */
  maxDocumentBytes?: number
  /** Accounts whose visible-package list is kept. */
  maxAccounts?: number
}

/**
 * Without PACKYARD_PUBLIC_URL every Host header a client sends is a base URL: only this many
 * are kept per document, further ones are built per request.
 */
const BASES_PER_DOCUMENT = 4

/** Request paths remembered per account (a Magento resolve asks for about 700); beyond this the account starts afresh. */
const PATHS_PER_ACCOUNT = 4096

/**
 * What the Composer routes answer from, in memory: packages by name, each account's visible
 * names and its packages.json, p2 documents as bytes (and their compressed forms), and the
 * archives' version rows. A request costs Map lookups; SQL runs only to rebuild what a
 * change made stale.
 *
 * Invalidation: everything is tied to the catalog change counter (triggers move it on every
 * publish, access change, grant and revoke, in any process). When it moves, the package map
 * is reloaded (one query) and the per-account lists are dropped; a document is rebuilt only
 * if its package's metadata timestamp moved (every metadata rebuild moves it).
 *
 * Licence-shaped grants: an account whose grant limits the versions (a constraint, updates
 * until, a minimum stability) gets a document built over the allowed versions only, cached
 * by (package, metadata timestamp, rule key): every account with the same rule for a package
 * shares it. A grant without limits, and a public package, use the stored document.
 */
export function createCatalogView (opts: CatalogViewOptions) {
  const { packages, changes } = opts
  const maxDocumentBytes = opts.maxDocumentBytes ?? 64 * 1024 * 1024
  const maxAccounts = opts.maxAccounts ?? 20_000
  let syncedAt = -1
  let byName = new Map<string, Package>()
  const accounts = new Map<number, AccountView>()
  const docs = new Map<string, DocEntry>()
  const files = new Map<number, { updatedAt: number, byFile: Map<string, VersionRecord>, all: VersionRecord[] }>()
  const rules = new Map<string, (v: RuledVersion) => boolean>()
  const allowed = new Map<string, { updatedAt: number, versions: VersionRecord[] }>()
  let docBytes = 0
  let filteredBuilds = 0

  function sync (): void {
    const counter = changes.current().catalog
    if (counter === syncedAt) return
    syncedAt = counter
    byName = new Map(packages.list().map((p) => [p.name, p]))
    accounts.clear()
  }

  /** The package's version rows, read once per metadata change. */
  function versionsOf (pkg: Package): { byFile: Map<string, VersionRecord>, all: VersionRecord[] } {
    let entry = files.get(pkg.id)
    if (entry === undefined || entry.updatedAt !== pkg.metadataUpdatedAt) {
      const all = packages.versions(pkg.id)
      entry = { updatedAt: pkg.metadataUpdatedAt, byFile: new Map(all.map((v) => [v.distFile, v])), all }
      if (files.size >= 10_000) files.delete(files.keys().next().value!)
      files.set(pkg.id, entry)
    }
    return entry
  }

  function ruleTest (rule: GrantRule): (v: RuledVersion) => boolean {
    const key = ruleKey(rule)
    let test = rules.get(key)
    if (test === undefined) {
      test = compileRule(rule)
      if (rules.size >= 10_000) rules.delete(rules.keys().next().value!)
      rules.set(key, test)
    }
    return test
  }

  /** The versions a rule lists in the metadata: not yanked, and inside the rule; shared by every account with that rule. */
  function allowedVersions (pkg: Package, rule: GrantRule): VersionRecord[] {
    const key = `${pkg.id}|${ruleKey(rule)}`
    const entry = allowed.get(key)
    if (entry !== undefined && entry.updatedAt === pkg.metadataUpdatedAt) return entry.versions
    const test = ruleTest(rule)
    const versions = versionsOf(pkg).all.filter((v) => v.yankedAt === null && test(v))
    if (allowed.size >= 50_000) allowed.delete(allowed.keys().next().value!)
    allowed.set(key, { updatedAt: pkg.metadataUpdatedAt, versions })
    return versions
  }

  function accountView (accountId: number): AccountView {
    sync()
    let view = accounts.get(accountId)
    if (view === undefined) {
      const visible = new Map<string, Entitlement>()
      for (const { name, entitlement } of packages.entitlements(accountId)) {
        const pkg = byName.get(name)
        const rule = limitingRuleOf(entitlement)
        // A package the grant opens no version of is not listed (nor served).
        if (pkg !== undefined && rule !== null && allowedVersions(pkg, rule).length === 0) continue
        visible.set(name, entitlement)
      }
      view = { names: [...visible.keys()], visible, roots: new Map(), paths: new Map() }
      if (accounts.size >= maxAccounts) accounts.delete(accounts.keys().next().value!)
      accounts.set(accountId, view)
    }
    return view
  }

  /** Frees the oldest documents until the cache is under its budget again. */
  function evict (): void {
    for (const view of accounts.values()) view.paths.clear()
    for (const [key, entry] of docs) {
      if (docBytes <= maxDocumentBytes * 0.8) break
      for (const body of entry.byBase.values()) docBytes -= body.size()
      docs.delete(key)
    }
  }

  /** Compressed forms count against the budget when they are made. */
  function grow (bytes: number): void {
    docBytes += bytes
    if (docBytes > maxDocumentBytes) evict()
  }

  function dropDoc (key: string): void {
    const entry = docs.get(key)
    if (entry === undefined) return
    for (const body of entry.byBase.values()) docBytes -= body.size()
    docs.delete(key)
  }

  /** The document of the versions a rule allows, built once per (package, timestamp, rule). */
  function filteredEntry (pkg: Package, rule: GrantRule, dev: boolean): DocEntry {
    const key = `${pkg.id}|${ruleKey(rule)}`
    const wanted = `${key}${dev ? '~dev' : ''}`
    const entry = docs.get(wanted)
    if (entry !== undefined && entry.updatedAt === pkg.metadataUpdatedAt) return entry
    dropDoc(`${key}~dev`)
    dropDoc(key)
    filteredBuilds++
    const built = buildPackageMetadata(pkg.name, allowedVersions(pkg, rule).map((v) => ({ ...v, name: pkg.name })), { abandoned: pkg.abandoned })
    const lastModified = new Date(pkg.metadataUpdatedAt * 1000).toUTCString()
    const stable: DocEntry = { updatedAt: pkg.metadataUpdatedAt, lastModified, doc: built.stable, byBase: new Map() }
    const devEntry: DocEntry = { updatedAt: pkg.metadataUpdatedAt, lastModified, doc: built.dev, byBase: new Map() }
    docs.set(key, stable)
    docs.set(`${key}~dev`, devEntry)
    return dev ? devEntry : stable
  }

  function docEntry (pkg: Package, dev: boolean): DocEntry | undefined {
    const key = `${pkg.id}${dev ? '~dev' : ''}`
    const entry = docs.get(key)
    if (entry !== undefined && entry.updatedAt === pkg.metadataUpdatedAt) return entry
    if (entry !== undefined) {
      for (const body of entry.byBase.values()) docBytes -= body.size()
      docs.delete(key)
    }
    const stored = packages.metadata(pkg.id)
    if (stored === undefined) return undefined
    const fresh: DocEntry = { updatedAt: stored.updatedAt, lastModified: new Date(stored.updatedAt * 1000).toUTCString(), doc: dev ? stored.dev : stored.stable, byBase: new Map() }
    docs.set(key, fresh)
    return fresh
  }

  return {
    /** The package, when it exists and this account may see it. */
    visiblePackage (accountId: number, name: string): Package | undefined {
      const view = accountView(accountId)
      return view.visible.has(name) ? byName.get(name) : undefined
    },
    /** How this account sees a listed package (public, granted, with which rule), or undefined. */
    entitlement (accountId: number, name: string): Entitlement | undefined {
      return accountView(accountId).visible.get(name)
    },
    /** Every listed package of this account with how it sees it. */
    entitlements (accountId: number): ReadonlyMap<string, Entitlement> {
      return accountView(accountId).visible
    },
    /** The versions an entitlement lists in the metadata (never yanked ones). */
    listedVersions (pkg: Package, e: Entitlement): VersionRecord[] {
      const rule = limitingRuleOf(e)
      return rule === null ? versionsOf(pkg).all.filter((v) => v.yankedAt === null) : allowedVersions(pkg, rule)
    },
    /** Whether an entitlement opens this version's archive (yanked or not: lock files keep working). */
    opens (e: Entitlement, version: VersionRecord): boolean {
      const rule = limitingRuleOf(e)
      return rule === null || ruleTest(rule)(version)
    },
    /** The package, whoever may see it (403 versus 404 for archives). */
    package (name: string): Package | undefined {
      sync()
      return byName.get(name)
    },
    visibleNames (accountId: number): string[] {
      return accountView(accountId).names
    },
    /** packages.json for this account and base URL. */
    root (accountId: number, baseUrl: string): EncodedBody {
      const view = accountView(accountId)
      let body = view.roots.get(baseUrl)
      if (body === undefined) {
        body = encodedBody(Buffer.from(JSON.stringify(rootDocument(baseUrl, view.names))))
        if (view.roots.size < BASES_PER_DOCUMENT) view.roots.set(baseUrl, body)
      }
      return body
    },
    /** The p2 answer `document` gave this account for this request path and base URL, if it was remembered. */
    rememberedPath (accountId: number, path: string, baseUrl: string): ServedDocument | undefined {
      const hit = accountView(accountId).paths.get(path)
      return hit !== undefined && hit.baseUrl === baseUrl ? hit.doc : undefined
    },
    /**
     * A p2 document as bytes, or undefined when the package has no versions of that kind.
     * With a limiting rule, the shared document of the versions it allows. `remember`: the
     * account and request path to remember the answer under (when its bytes are cached).
     */
    document (pkg: Package, dev: boolean, baseUrl: string, rule?: GrantRule, remember?: { accountId: number, path: string }): ServedDocument | undefined {
      const entry = rule === undefined ? docEntry(pkg, dev) : filteredEntry(pkg, rule, dev)
      if (entry === undefined || entry.doc === null) return undefined
      let body = entry.byBase.get(baseUrl)
      if (body === undefined) {
        const cached = entry.byBase.size < BASES_PER_DOCUMENT
        body = encodedBody(Buffer.from(withBaseUrl(entry.doc, baseUrl)), cached ? grow : undefined)
        if (!cached) return { body, updatedAt: entry.updatedAt, lastModified: entry.lastModified }
        entry.byBase.set(baseUrl, body)
        docBytes += body.identity.length
        if (docBytes > maxDocumentBytes) evict()
      }
      const doc = { body, updatedAt: entry.updatedAt, lastModified: entry.lastModified }
      if (remember !== undefined) {
        const paths = accountView(remember.accountId).paths
        if (paths.size >= PATHS_PER_ACCOUNT) paths.clear()
        paths.set(remember.path, { baseUrl, doc })
      }
      return doc
    },
    /** The version row an archive file name belongs to. */
    versionByFile (pkg: Package, distFile: string): VersionRecord | undefined {
      return versionsOf(pkg).byFile.get(distFile)
    },
    /** `filteredBuilds`: documents built for limiting rules (one per package, timestamp and rule, however many accounts share it). */
    stats: () => ({ documents: docs.size, documentBytes: docBytes, accounts: accounts.size, packages: byName.size, filteredBuilds })
  }
}

export type CatalogView = ReturnType<typeof createCatalogView>
