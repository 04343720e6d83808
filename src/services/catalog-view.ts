import type { Package, VersionRecord } from '../domain/catalog.js'
import type { ChangeCountersRepository } from '../repositories/changes.js'
import type { PackagesRepository } from '../repositories/packages.js'
import { rootDocument, withBaseUrl } from '../composer/metadata.js'
import { encodedBody, type EncodedBody } from './encoded-body.js'

/** A prebuilt p2 document (stable or ~dev) of one package, as bytes per base URL. */
interface DocEntry {
  updatedAt: number
  /** updatedAt as an HTTP date, for Last-Modified. */
  lastModified: string
  /** The stored document with its base-URL placeholder; null when that half has no versions. */
  doc: string | null
  byBase: Map<string, EncodedBody>
}

interface AccountView {
  names: string[]
  visible: Set<string>
  roots: Map<string, EncodedBody>
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
 */
export function createCatalogView (opts: CatalogViewOptions) {
  const { packages, changes } = opts
  const maxDocumentBytes = opts.maxDocumentBytes ?? 64 * 1024 * 1024
  const maxAccounts = opts.maxAccounts ?? 20_000
  let syncedAt = -1
  let byName = new Map<string, Package>()
  const accounts = new Map<number, AccountView>()
  const docs = new Map<string, DocEntry>()
  const files = new Map<number, { updatedAt: number, byFile: Map<string, VersionRecord> }>()
  let docBytes = 0

  function sync (): void {
    const counter = changes.current().catalog
    if (counter === syncedAt) return
    syncedAt = counter
    byName = new Map(packages.list().map((p) => [p.name, p]))
    accounts.clear()
  }

  function accountView (accountId: number): AccountView {
    sync()
    let view = accounts.get(accountId)
    if (view === undefined) {
      const names = packages.visibleNames(accountId)
      view = { names, visible: new Set(names), roots: new Map() }
      if (accounts.size >= maxAccounts) accounts.delete(accounts.keys().next().value!)
      accounts.set(accountId, view)
    }
    return view
  }

  /** Frees the oldest documents until the cache is under its budget again. */
  function evict (): void {
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
    /** A p2 document as bytes, or undefined when the package has no versions of that kind. */
    document (pkg: Package, dev: boolean, baseUrl: string): { body: EncodedBody, updatedAt: number, lastModified: string } | undefined {
      const entry = docEntry(pkg, dev)
      if (entry === undefined || entry.doc === null) return undefined
      let body = entry.byBase.get(baseUrl)
      if (body === undefined) {
        const cached = entry.byBase.size < BASES_PER_DOCUMENT
        body = encodedBody(Buffer.from(withBaseUrl(entry.doc, baseUrl)), cached ? grow : undefined)
        if (cached) {
          entry.byBase.set(baseUrl, body)
          docBytes += body.identity.length
          if (docBytes > maxDocumentBytes) evict()
        }
      }
      return { body, updatedAt: entry.updatedAt, lastModified: entry.lastModified }
    },
    /** The version row an archive file name belongs to. */
    versionByFile (pkg: Package, distFile: string): VersionRecord | undefined {
      let entry = files.get(pkg.id)
      if (entry === undefined || entry.updatedAt !== pkg.metadataUpdatedAt) {
        entry = { updatedAt: pkg.metadataUpdatedAt, byFile: new Map(packages.versions(pkg.id).map((v) => [v.distFile, v])) }
        if (files.size >= 10_000) files.delete(files.keys().next().value!)
        files.set(pkg.id, entry)
      }
      return entry.byFile.get(distFile)
    },
    stats: () => ({ documents: docs.size, documentBytes: docBytes, accounts: accounts.size, packages: byName.size })
  }
}

export type CatalogView = ReturnType<typeof createCatalogView>
