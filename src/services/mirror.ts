import type { FileHandle } from 'node:fs/promises'
import { stat } from 'node:fs/promises'
import type { ArchiveStore } from '../repositories/archive-store.js'
import type { ChangeCountersRepository } from '../repositories/changes.js'
import type { MirrorRepository, MirroredVersion, Upstream, UpstreamAccess, UpstreamMode, UpstreamPackage } from '../repositories/mirror.js'
import type { Transactional } from '../repositories/transaction.js'
import { errors, PackyardError } from '../errors.js'
import { BASE_URL_TOKEN, minify, rootDocument, withBaseUrl } from '../composer/metadata.js'
import { isDevVersion, sortVersionsDescending } from '../composer/version.js'
import {
  changesFeedUrl, matchesPattern, metadataFileUrl, parseChanges, parseIncludeFile, parseProviderIncludes, parseRoot, parseV1Provider, parseV2Document, providerFileUrl,
  sha256Hex, UpstreamFormatError, vendorPatterns, type InlinePackages, type PackageInclude, type UpstreamRoot, type UpstreamVersion
} from '../composer/upstream-formats.js'
import { isValidPackageName } from '../composer/composer-json.js'
import { encodedBody, type EncodedBody } from './encoded-body.js'
import { loadUpstreamCredentials, readBody, safeUrl, upstreamGet, UpstreamHttpError, type UpstreamCredentials } from './upstream-http.js'
import type { AccountService } from './accounts.js'
import type { ComposerAdvisory } from './advisories.js'

export interface MirrorOptions {
  mirror: MirrorRepository
  store: ArchiveStore
  changes: ChangeCountersRepository
  transaction: Transactional
  accounts: AccountService
  /** auth.json for upstreams: the JSON itself (PACKYARD_UPSTREAM_AUTH) or a file (PACKYARD_UPSTREAM_AUTH_FILE). */
  auth: { json?: string | undefined, file?: string | undefined }
  /** No byte from an upstream for this long fails the request (PACKYARD_UPSTREAM_TIMEOUT_MS). */
  timeoutMs: number
  /** Metadata older than this is refreshed in the background while the cached copy is served (PACKYARD_MIRROR_MAX_AGE). */
  maxAgeSeconds: number
  /** Background failures are logged here, never thrown at a client. */
  log?: ((msg: string, detail: Record<string, unknown>) => void) | undefined
}

/** Counters per upstream, read by the Prometheus collector. */
export interface UpstreamStats { requests: number, errors: number, bytes: number, cacheHits: number }

/** One upstream in /healthz: healthy unless its last request failed after its last success. */
export interface UpstreamHealth {
  name: string
  healthy: boolean
  lastSuccessAt: string | null
  lastErrorAt: string | null
  lastError: string | null
}

export interface UpstreamStatus {
  healthy: boolean
  name: string
  url: string
  mode: UpstreamMode
  access: UpstreamAccess
  patterns: string[]
  lastSuccessAt: string | null
  lastErrorAt: string | null
  lastError: string | null
  packages: number
  versions: number
  archives: number
}

/** What `upstream sync` did for one upstream. */
export interface SyncResult {
  upstream: string
  /** No failure at all. */
  ok: boolean
  /** Names checked. */
  packages: number
  /** Names whose served versions changed. */
  updated: number
  /** One line per failure: the upstream's own (its packages.json), or `<package>: <message>`. */
  errors: string[]
}

/**
 * An upstream's root as last read: for Composer 1, the provider list (name → sha256 of its
 * provider file) and the packages listed inline in the root and its include files, each with a
 * hash of its versions that says whether they changed.
 */
interface RootState {
  root: UpstreamRoot
  providers: Map<string, string> | undefined
  inline: Map<string, { versions: UpstreamVersion[], hash: string }> | undefined
  at: number
}

/** What one read of a changes feed did: names now current (asked again, or vouched for), of them those whose versions changed, and failures. */
interface FeedOutcome { current: Set<string>, updated: Set<string>, failed: Map<string, string> }

interface Doc { updatedAt: number, lastModified: string, doc: string | null, byBase: Map<string, EncodedBody> }
interface AccountMirror { local: readonly string[], names: string[], patterns: string[], roots: Map<string, EncodedBody> }

const UPSTREAM_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/
const PATTERN = /^[a-z0-9*][a-z0-9_.*-]*(\/[a-z0-9_.*-]+)?$/
const MAX_METADATA_BYTES = 64 * 1024 * 1024
/** composer audit gives up after 10 s: an upstream's advisories API gets less than that. */
const ADVISORIES_TIMEOUT_MS = 5000
const BASES_PER_DOCUMENT = 4
/** Include files read for one Composer 1 root, nested ones included: a loop or a runaway upstream stops here. */
const MAX_INCLUDE_FILES = 1000

const oneLine = (message: string): string => message.replace(/\s*\n\s*/g, ' ')
const nowSeconds = (): number => Math.floor(Date.now() / 1000)
/** No error recorded, or a success at or after the last error (ISO times compare as strings). */
const isHealthy = (u: Upstream): boolean => u.lastErrorAt === null || (u.lastSuccessAt !== null && u.lastSuccessAt >= u.lastErrorAt)

/** A 502 whose message Composer shows: an upstream could not give what is not cached yet. */
function upstreamUnavailable (message: string): PackyardError {
  return new PackyardError('UPSTREAM_UNAVAILABLE', 502, message)
}

/**
 * Mirrored upstream repositories, served through the same Composer view as local packages.
 *
 * What is served comes from the database only (stored versions, archives in the store); the
 * network is touched to fill a name the first time it is asked for (lazy), to refresh metadata
 * older than the maximum age (in the background, while the stored copy is served), and to fetch
 * an archive the first time. An upstream that fails never takes anything cached away.
 *
 * In-memory state (upstreams, names, grants, per-account lists, documents) is validated by the
 * catalog change counter, which triggers on the mirror tables move (migrations/012).
 */
export function createMirrorService (opts: MirrorOptions) {
  const { mirror, store, changes } = opts
  const transaction: Transactional = (fn) => {
    const inTransaction = opts.transaction(fn)
    return (...args) => {
      try { return inTransaction(...args) } finally { changes.invalidate() }
    }
  }
  let credentials: UpstreamCredentials | undefined
  const creds = (): UpstreamCredentials => (credentials ??= loadUpstreamCredentials(opts.auth))

  let syncedAt = -1
  let upstreams: Upstream[] = []
  let known = new Map<number, Map<string, UpstreamPackage>>()
  let granted = new Set<string>()
  const accounts = new Map<number, AccountMirror>()
  const docs = new Map<string, Doc>()
  const roots = new Map<number, RootState>()
  /** Parsed Composer 1 include files by URL and hash, per upstream: an unchanged include is not fetched again. */
  const includeFiles = new Map<number, Map<string, ReturnType<typeof parseIncludeFile>>>()
  const inFlight = new Map<string, Promise<unknown>>()
  const stats = new Map<string, UpstreamStats>()

  function sync (): void {
    const counter = changes.current().catalog
    if (counter === syncedAt) return
    syncedAt = counter
    upstreams = mirror.upstreams()
    known = new Map(upstreams.map((u) => [u.id, new Map()]))
    for (const p of mirror.packages()) known.get(p.upstreamId)?.set(p.name, p)
    granted = new Set(mirror.grants().map((g) => `${g.accountId}:${g.upstreamId}`))
    accounts.clear()
  }

  function statsOf (u: Upstream): UpstreamStats {
    let s = stats.get(u.name)
    if (s === undefined) stats.set(u.name, s = { requests: 0, errors: 0, bytes: 0, cacheHits: 0 })
    return s
  }

  const visibleTo = (accountId: number, u: Upstream): boolean => u.access === 'all' || granted.has(`${accountId}:${u.id}`)
  const hasData = (p: UpstreamPackage | undefined): p is UpstreamPackage => p !== undefined && p.metadataUpdatedAt > 0
  /** Whether this upstream may serve the name at all: approved, or (lazy) known or matching its patterns. */
  function serves (u: Upstream, name: string): boolean {
    const p = known.get(u.id)?.get(name)
    if (u.mode === 'approved') return p?.approved === true
    return p !== undefined || u.patterns.some((pattern) => matchesPattern(name, pattern))
  }

  /** The upstream whose stored versions answer this name for this account. */
  function source (accountId: number, name: string): { u: Upstream, p: UpstreamPackage } | undefined {
    sync()
    for (const u of upstreams) {
      if (!visibleTo(accountId, u) || !serves(u, name)) continue
      const p = known.get(u.id)?.get(name)
      if (hasData(p)) return { u, p }
    }
    return undefined
  }

  function accountMirror (accountId: number, local: readonly string[], isLocal: (name: string) => boolean): AccountMirror {
    sync()
    const cached = accounts.get(accountId)
    if (cached !== undefined && cached.local === local) return cached
    const names = new Set<string>()
    const patterns = new Set<string>()
    for (const u of upstreams) {
      if (!visibleTo(accountId, u)) continue
      for (const p of known.get(u.id)?.values() ?? []) {
        if (u.mode === 'approved' ? p.approved : hasData(p)) names.add(p.name)
      }
      if (u.mode === 'lazy') for (const pattern of u.patterns) patterns.add(pattern)
    }
    for (const n of local) names.delete(n)
    const view: AccountMirror = { local, names: [...names].filter((n) => !isLocal(n)).sort(), patterns: [...patterns].sort(), roots: new Map() }
    if (accounts.size >= 20_000) accounts.delete(accounts.keys().next().value!)
    accounts.set(accountId, view)
    return view
  }

  function mirrorPath (u: Upstream, v: MirroredVersion): string {
    const type = (v.metadata.dist as { type?: unknown } | undefined)?.type
    return `/mirror/${u.name}/${v.name}/${encodeURIComponent(v.versionNormalized)}.${type === 'tar' ? 'tar' : 'zip'}`
  }

  function buildDoc (u: Upstream, name: string, dev: boolean): string | null {
    const versions = sortVersionsDescending(mirror.versions(u.id, name).filter((v) => isDevVersion(v.version) === dev), (v) => v.versionNormalized)
    if (versions.length === 0) return null
    const list = versions.map((v) => ({ ...v.metadata, dist: { ...(v.metadata.dist as Record<string, unknown>), url: `${BASE_URL_TOKEN}${mirrorPath(u, v)}` } }))
    return JSON.stringify({ minified: 'composer/2.0', packages: { [name]: minify(list) } })
  }

  function nextUpdatedAt (previous: number): number {
    return Math.max(nowSeconds(), previous + 1)
  }

  /** Counts one upstream request and records the upstream's health. */
  async function measured<T> (u: Upstream, fn: () => Promise<T>): Promise<T> {
    statsOf(u).requests++
    try {
      const result = await fn()
      mirror.markSuccess(u.id)
      return result
    } catch (err) {
      statsOf(u).errors++
      mirror.markError(u.id, (err as Error).message)
      opts.log?.('upstream request failed', { upstream: u.name, error: (err as Error).message })
      throw err
    }
  }

  async function getJson (u: Upstream, url: string, headers: Record<string, string> = {}): Promise<{ status: number, body: Buffer, lastModified: string | null }> {
    const res = await upstreamGet(url, { credentials: creds(), timeoutMs: opts.timeoutMs, headers })
    if (res.status === 304 || res.status === 404) {
      res.body.resume()
      res.done()
      return { status: res.status, body: Buffer.alloc(0), lastModified: null }
    }
    if (res.status !== 200) {
      res.body.resume()
      res.done()
      throw new UpstreamHttpError(`GET ${safeUrl(url)} answered ${res.status}`, res.status)
    }
    const body = await readBody(res, MAX_METADATA_BYTES, url)
    statsOf(u).bytes += body.length
    return { status: 200, body, lastModified: res.headers.get('last-modified') }
  }

  /** The upstream's root (and, for v1, its provider list and inline packages), refetched when older than the maximum age. */
  async function rootOf (u: Upstream, force = false): Promise<RootState> {
    const cached = roots.get(u.id)
    if (cached !== undefined && !force && nowSeconds() - cached.at < opts.maxAgeSeconds) return cached
    return await once(`root:${u.id}`, async () => {
      const url = `${u.url}/packages.json`
      const { body } = await measured(u, () => getJson(u, url))
      if (body.length === 0) throw new UpstreamHttpError(`GET ${safeUrl(url)} answered 404: not a Composer repository`, 404)
      const root = parseRoot(u.url, body)
      let providers: Map<string, string> | undefined
      let inline: RootState['inline']
      if (root.protocol === 'v1') {
        providers = new Map()
        for (const include of root.providerIncludes) {
          const res = await measured(u, () => getJson(u, include.url))
          if (res.status !== 200) throw new UpstreamHttpError(`GET ${safeUrl(include.url)} answered ${res.status}`, res.status)
          for (const [name, sha] of parseProviderIncludes(res.body, include.sha256, `provider include ${safeUrl(include.url)}`)) providers.set(name, sha)
        }
        inline = new Map()
        for (const [name, versions] of await inlinePackagesOf(u, root.packages, root.includes)) {
          inline.set(name, { versions, hash: sha256Hex(JSON.stringify(versions)) })
        }
      }
      const entry = { root, providers, inline, at: nowSeconds() }
      roots.set(u.id, entry)
      return entry
    })
  }

  /**
   * The packages a Composer 1 root lists inline and in its include files (which may include
   * others, as Composer reads them), each file checked against the hash its parent names. A
   * later listing of the same version replaces an earlier one.
   */
  async function inlinePackagesOf (u: Upstream, packages: InlinePackages, includes: PackageInclude[]): Promise<InlinePackages> {
    const out: InlinePackages = new Map()
    const add = (from: InlinePackages): void => {
      for (const [name, versions] of from) out.set(name, [...(out.get(name) ?? []), ...versions])
    }
    add(packages)
    const previous = includeFiles.get(u.id) ?? new Map<string, ReturnType<typeof parseIncludeFile>>()
    const current = new Map<string, ReturnType<typeof parseIncludeFile>>()
    const queue = [...includes]
    for (let include = queue.shift(); include !== undefined; include = queue.shift()) {
      const key = `${include.url}#${include.sha256 ?? include.sha1 ?? ''}`
      if (current.has(key)) continue
      if (current.size >= MAX_INCLUDE_FILES) throw new UpstreamFormatError(`more than ${MAX_INCLUDE_FILES} include files`)
      let file = previous.get(key)
      if (file === undefined) {
        const res = await measured(u, () => getJson(u, include.url))
        if (res.status !== 200) throw new UpstreamHttpError(`GET ${safeUrl(include.url)} answered ${res.status}`, res.status)
        file = parseIncludeFile(u.url, res.body, include, `include ${safeUrl(include.url)}`)
      }
      current.set(key, file)
      add(file.packages)
      queue.push(...file.includes)
    }
    includeFiles.set(u.id, current)
    return out
  }

  /** One promise per key at a time: concurrent callers share it. */
  function once<T> (key: string, fn: () => Promise<T>): Promise<T> {
    const running = inFlight.get(key) as Promise<T> | undefined
    if (running !== undefined) return running
    const p = fn().finally(() => inFlight.delete(key))
    inFlight.set(key, p)
    return p
  }

  const store_ = transaction((u: Upstream, name: string, versions: UpstreamVersion[] | undefined, validator: string | null, changesEpoch: number): boolean => {
    mirror.ensurePackage(u.id, name)
    let changed = false
    if (versions !== undefined) {
      const existing = new Map(mirror.versions(u.id, name).map((v) => [v.versionNormalized, v]))
      for (const v of versions) {
        const old = existing.get(v.versionNormalized)
        const metadata = JSON.stringify(v.metadata)
        if (old !== undefined && JSON.stringify(old.metadata) === metadata && old.distUrl === v.distUrl && old.distShasum === v.distShasum) continue
        // Versions that vanish upstream are kept: a lock file naming them still installs.
        mirror.upsertVersion({ upstreamId: u.id, name, version: v.version, versionNormalized: v.versionNormalized, metadata, distUrl: v.distUrl, distShasum: v.distShasum })
        changed = true
      }
    }
    const p = mirror.package(u.id, name)!
    if (changed) mirror.setUpdated(u.id, name, nextUpdatedAt(p.metadataUpdatedAt))
    mirror.setChecked(u.id, name, nowSeconds(), validator, changesEpoch)
    return changed
  })

  /**
   * Asks the upstream for one package (conditionally; `force` ignores what the last answer said)
   * and stores what changed. The root is the one cached for the maximum age: `sync` refetches it once.
   */
  function refresh (u: Upstream, name: string, force = false): Promise<boolean> {
    return once(`pkg:${u.id}:${name}`, async () => {
      const { root, providers, inline } = await rootOf(u)
      if (root.protocol === 'v2' && root.changesUrl !== undefined) await startFeed(u, root.changesUrl)
      // Read before asking: an answer vouches for this name only within the feed epoch it was asked in.
      const epoch = mirror.changesFeed(u.id).epoch
      const previous = mirror.package(u.id, name)?.validator ?? null
      if (root.protocol === 'v1') {
        const sha = root.providersUrl === undefined ? undefined : providers?.get(name)
        const listed = inline?.get(name)
        if (sha === undefined && listed === undefined) return store_(u, name, undefined, previous, epoch)
        // The provider file's sha256, the inline versions' hash, or both: unchanged means nothing to read.
        const validator = [sha, listed === undefined ? undefined : `inline:${listed.hash}`].filter((v) => v !== undefined).join('+')
        if (validator === previous && !force) return store_(u, name, undefined, previous, epoch)
        const versions = [...listed?.versions ?? []]
        if (sha !== undefined) {
          const url = providerFileUrl(root.providersUrl!, name, sha)
          const res = await measured(u, () => getJson(u, url))
          if (res.status !== 200) throw new UpstreamHttpError(`GET ${safeUrl(url)} answered ${res.status}`, res.status)
          // After the inline ones: the provider file's copy of a version wins.
          versions.push(...parseV1Provider(name, res.body, sha))
        }
        return store_(u, name, versions, validator, epoch)
      }
      const validators = parseValidators(previous)
      const versions: UpstreamVersion[] = []
      let any = false
      const next: Record<string, string> = {}
      for (const file of [name, `${name}~dev`]) {
        const url = metadataFileUrl(root.metadataUrl, file)
        const ims = force ? undefined : validators[file]
        const res = await measured(u, () => getJson(u, url, ims === undefined ? {} : { 'if-modified-since': ims }))
        if (res.status === 304 && ims !== undefined) next[file] = ims
        if (res.status === 200) {
          any = true
          versions.push(...parseV2Document(name, res.body))
          if (res.lastModified !== null) next[file] = res.lastModified
        }
      }
      return store_(u, name, any ? versions : undefined, JSON.stringify(next), epoch)
    })
  }

  /**
   * Reads an upstream's metadata-changes-url feed (one read at a time per upstream) and brings
   * the cached names up to date with it: a name the feed says was updated is asked again
   * (conditionally); a name it does not mention, or says was deleted (whose stored versions stay
   * served), and that was last asked upstream within the current epoch, is current without a
   * request. A name asked before the epoch began is left to the caller to ask on its own.
   *
   * Why nothing is missed: the epoch changes only when following (re)starts from a fresh
   * timestamp T, so an answer asked within the epoch was asked after T was handed out; the feed
   * then names every change after T, and the timestamp only moves forward once every name it
   * reported was read again (a failed one is reported again by the next read). Without a
   * timestamp yet, or when the feed answers an error or "resync", following restarts from the
   * timestamp it gives.
   */
  function readFeed (u: Upstream, changesUrl: string): Promise<FeedOutcome> {
    return once(`feed:${u.id}`, async () => {
      const asked = nowSeconds()
      const { timestamp, epoch } = mirror.changesFeed(u.id)
      const url = changesFeedUrl(changesUrl, timestamp)
      const answer = await measured(u, async () => parseChanges(await getFeed(u, url), `changes feed ${safeUrl(url)}`))
      const outcome: FeedOutcome = { current: new Set(), updated: new Set(), failed: new Map() }
      feedReadAt.set(u.id, asked)
      if (answer.kind === 'restart' || timestamp === null) {
        mirror.restartChangesFeed(u.id, answer.timestamp)
        return outcome
      }
      const vouched: string[] = []
      for (const p of mirror.packagesOf(u.id)) {
        if (u.mode === 'approved' && !p.approved) continue
        if (answer.updated.has(p.name)) {
          try {
            if (await refresh(u, p.name)) outcome.updated.add(p.name)
            outcome.current.add(p.name)
          } catch (err) {
            outcome.failed.set(p.name, (err as Error).message)
          }
        } else if (p.changesEpoch === epoch) {
          vouched.push(p.name)
          outcome.current.add(p.name)
        }
      }
      mirror.confirmChecked(u.id, epoch, vouched, asked)
      if (outcome.failed.size === 0) mirror.advanceChangesFeed(u.id, epoch, answer.timestamp)
      return outcome
    })
  }

  /** A changes-feed answer: a 200, or the 400 whose body says where to start (packagist.org's answer to a missing or too old `since`). */
  async function getFeed (u: Upstream, url: string): Promise<Buffer> {
    const res = await upstreamGet(url, { credentials: creds(), timeoutMs: opts.timeoutMs })
    if (res.status !== 200 && res.status !== 400) {
      res.body.resume()
      res.done()
      throw new UpstreamHttpError(`GET ${safeUrl(url)} answered ${res.status}`, res.status)
    }
    const body = await readBody(res, MAX_METADATA_BYTES, url)
    statsOf(u).bytes += body.length
    return body
  }

  /** When each upstream's feed was last read, and last failed: it is read at most once a minute (or maximum age), and a failing one is left alone as long. */
  const feedReadAt = new Map<number, number>()
  const feedFailedAt = new Map<number, number>()
  const feedPause = (): number => Math.min(60, opts.maxAgeSeconds)

  /** Reads the feed unless it was read or failed within the pause; undefined when it was not read (the caller asks per package). */
  async function readFeedIfDue (u: Upstream, changesUrl: string): Promise<FeedOutcome | undefined> {
    const now = nowSeconds()
    if (now - (feedReadAt.get(u.id) ?? 0) < feedPause() || now - (feedFailedAt.get(u.id) ?? 0) < feedPause()) return undefined
    try {
      return await readFeed(u, changesUrl)
    } catch (err) {
      feedFailedAt.set(u.id, now)
      opts.log?.('upstream changes feed failed; asking each package', { upstream: u.name, error: (err as Error).message })
      return undefined
    }
  }

  /** Starts following an upstream's feed before its first package is asked, so that answer is vouched for from the start. */
  async function startFeed (u: Upstream, changesUrl: string): Promise<void> {
    if (mirror.changesFeed(u.id).timestamp !== null) return
    if (nowSeconds() - (feedFailedAt.get(u.id) ?? 0) < feedPause()) return
    try {
      await readFeed(u, changesUrl)
    } catch (err) {
      feedFailedAt.set(u.id, nowSeconds())
      opts.log?.('upstream changes feed failed; asking each package', { upstream: u.name, error: (err as Error).message })
    }
  }

  /** A stale package: through the upstream's changes feed when it has one, else (or when the feed cannot vouch for it) asked on its own. */
  async function refreshStale (u: Upstream, name: string): Promise<void> {
    const { root } = await rootOf(u)
    if (root.protocol === 'v2' && root.changesUrl !== undefined) {
      const outcome = await readFeedIfDue(u, root.changesUrl)
      if (outcome?.current.has(name) === true) return
      const failure = outcome?.failed.get(name)
      if (failure !== undefined) throw new Error(failure)
    }
    await refresh(u, name)
  }

  function parseValidators (v: string | null): Record<string, string> {
    try {
      const parsed = JSON.parse(v ?? '{}') as unknown
      return typeof parsed === 'object' && parsed !== null ? parsed as Record<string, string> : {}
    } catch {
      return {}
    }
  }

  /** When a background refresh of a package last started: a failing upstream is asked at most once a minute per package. */
  const attempted = new Map<string, number>()
  function refreshInBackground (u: Upstream, name: string): void {
    const key = `${u.id}:${name}`
    const now = nowSeconds()
    if (now - (attempted.get(key) ?? 0) < Math.min(60, opts.maxAgeSeconds)) return
    if (attempted.size >= 100_000) attempted.clear()
    attempted.set(key, now)
    refreshStale(u, name).catch((err: unknown) => {
      opts.log?.('background refresh failed; serving the stored metadata', { upstream: u.name, package: name, error: (err as Error).message })
    })
  }

  /** One upstream advisory as Composer reads it, or undefined when it lacks what Composer needs. */
  function cleanAdvisory (u: Upstream, name: string, a: unknown): ComposerAdvisory | undefined {
    if (typeof a !== 'object' || a === null || Array.isArray(a)) return undefined
    const o = a as Record<string, unknown>
    const text = (v: unknown): string | null => typeof v === 'string' && v.trim() !== '' ? v : null
    const advisoryId = text(o.advisoryId)
    const affectedVersions = text(o.affectedVersions)
    const title = text(o.title)
    if (advisoryId === null || affectedVersions === null || title === null) return undefined
    const sources = (Array.isArray(o.sources) ? o.sources as unknown[] : [])
      .filter((s): s is { name: string, remoteId: string } => typeof s === 'object' && s !== null &&
        typeof (s as Record<string, unknown>).name === 'string' && typeof (s as Record<string, unknown>).remoteId === 'string')
      .map((s) => ({ name: s.name, remoteId: s.remoteId }))
    return {
      advisoryId,
      packageName: name,
      affectedVersions,
      title,
      cve: text(o.cve),
      link: text(o.link),
      // Composer parses reportedAt with DateTime: an upstream that gives none gets the fetch time.
      reportedAt: text(o.reportedAt) ?? new Date().toISOString().slice(0, 19).replace('T', ' '),
      sources: sources.length > 0 ? sources : [{ name: `upstream ${u.name}`, remoteId: advisoryId }],
      severity: text(o.severity)
    }
  }

  /** POSTs the names to the upstream's advisories API; undefined when its root advertises none. */
  async function fetchAdvisories (u: Upstream, names: string[]): Promise<Map<string, string> | undefined> {
    const { root } = await rootOf(u)
    if (root.protocol !== 'v2' || root.advisoriesUrl === undefined) return undefined
    const url = root.advisoriesUrl
    const form = names.map((n, i) => `packages%5B${i}%5D=${encodeURIComponent(n)}`).join('&')
    const body = await measured(u, async () => {
      const res = await upstreamGet(url, { credentials: creds(), timeoutMs: Math.min(opts.timeoutMs, ADVISORIES_TIMEOUT_MS), form })
      if (res.status !== 200) {
        res.body.resume()
        res.done()
        throw new UpstreamHttpError(`POST ${safeUrl(url)} answered ${res.status}`, res.status)
      }
      const bytes = await readBody(res, MAX_METADATA_BYTES, url)
      statsOf(u).bytes += bytes.length
      let parsed: unknown
      try { parsed = JSON.parse(bytes.toString()) } catch { throw new UpstreamFormatError(`POST ${safeUrl(url)}: not valid JSON`) }
      const advisories = (parsed as { advisories?: unknown } | null)?.advisories
      // PHP encodes an empty map as []: no advisories at all.
      if (Array.isArray(advisories) && advisories.length === 0) return {}
      if (typeof advisories !== 'object' || advisories === null || Array.isArray(advisories)) throw new UpstreamFormatError(`POST ${safeUrl(url)}: no "advisories" map`)
      return advisories as Record<string, unknown>
    })
    const lists = new Map<string, string>()
    for (const name of names) {
      const given = Object.hasOwn(body, name) ? body[name] : []
      const list = (Array.isArray(given) ? given as unknown[] : Object.values(given as object ?? {})).map((a) => cleanAdvisory(u, name, a)).filter((a) => a !== undefined)
      lists.set(name, JSON.stringify(list))
    }
    return lists
  }

  /** When fetching advisories from an upstream last failed: a failing upstream is asked at most once a minute. */
  const advisoriesFailedAt = new Map<number, number>()
  /** An upstream's advisories for these names: stored ones younger than the maximum age, else fetched; stale ones when it fails. */
  async function upstreamAdvisories (u: Upstream, names: string[]): Promise<Array<[string, ComposerAdvisory[]]>> {
    const stored = mirror.advisories(u.id, names)
    const now = nowSeconds()
    const due = names.filter((n) => { const s = stored.get(n); return s === undefined || now - s.fetchedAt >= opts.maxAgeSeconds })
    if (due.length > 0 && now - (advisoriesFailedAt.get(u.id) ?? 0) >= Math.min(60, opts.maxAgeSeconds)) {
      try {
        const fetched = await fetchAdvisories(u, due)
        if (fetched !== undefined) {
          mirror.storeAdvisories(u.id, fetched, now)
          for (const [name, json] of fetched) stored.set(name, { advisories: json, fetchedAt: now })
        }
      } catch (err) {
        advisoriesFailedAt.set(u.id, now)
        opts.log?.('upstream advisories failed; serving the stored ones', { upstream: u.name, error: (err as Error).message })
      }
    }
    return names.map((n) => [n, JSON.parse(stored.get(n)?.advisories ?? '[]') as ComposerAdvisory[]])
  }

  function upstreamNamed (name: string): Upstream {
    const u = mirror.upstream(name)
    if (u === undefined) throw errors.notFound(`upstream "${name}"`)
    return u
  }

  function checkPatterns (patterns: string[]): string[] {
    const out = patterns.map((p) => p.trim().toLowerCase()).filter((p) => p !== '')
    for (const p of out) {
      if (!PATTERN.test(p)) throw errors.badRequest(`invalid pattern "${p}": use vendor patterns such as magento/* (or * for every name)`)
    }
    return [...new Set(out)]
  }

  async function archiveFile (u: Upstream, v: MirroredVersion): Promise<{ sha256: string, sha1: string, size: number }> {
    if (v.sha256 !== null && v.sha1 !== null && v.size !== null) {
      const onDisk = await stat(store.finalPath(v.sha256)).catch(() => undefined)
      if (onDisk?.size === v.size) {
        statsOf(u).cacheHits++
        return { sha256: v.sha256, sha1: v.sha1, size: v.size }
      }
    }
    return await once(`archive:${u.id}:${v.name}:${v.versionNormalized}`, () => measured(u, async () => {
      const res = await upstreamGet(v.distUrl, { credentials: creds(), timeoutMs: opts.timeoutMs })
      if (res.status !== 200) {
        res.body.resume()
        res.done()
        throw new UpstreamHttpError(`GET ${safeUrl(v.distUrl)} answered ${res.status}`, res.status)
      }
      const expectedLength = Number(res.headers.get('content-length') ?? NaN)
      let staged
      try {
        staged = await store.stageStream(res.body)
      } catch (err) {
        throw new UpstreamHttpError(`GET ${safeUrl(v.distUrl)}: transfer failed (${(err as Error).message})`, 0)
      } finally {
        res.done()
      }
      statsOf(u).bytes += staged.size
      // A cut transfer or other bytes than upstream announced are never stored.
      const problem = Number.isFinite(expectedLength) && expectedLength !== staged.size
        ? `${staged.size} of ${expectedLength} bytes arrived`
        : v.distShasum !== '' && v.distShasum !== staged.sha1 ? `SHA-1 ${staged.sha1} is not the ${v.distShasum} upstream published` : undefined
      if (problem !== undefined) {
        await store.discard(staged)
        throw new UpstreamHttpError(`GET ${safeUrl(v.distUrl)}: ${problem}`, 0)
      }
      await store.commit(staged)
      const archive = { sha256: staged.sha256, sha1: staged.sha1, size: staged.size }
      mirror.setArchive(u.id, v.name, v.versionNormalized, archive)
      return archive
    }))
  }

  return {
    /** Names the account may install from upstreams, for available-packages (local names shadow them). */
    visibleNames (accountId: number, local: readonly string[], isLocal: (name: string) => boolean): string[] {
      return accountMirror(accountId, local, isLocal).names
    },
    /** available-package-patterns from the lazy upstreams this account sees. */
    patterns (accountId: number, local: readonly string[], isLocal: (name: string) => boolean): string[] {
      return accountMirror(accountId, local, isLocal).patterns
    },
    /** Whether any upstream adds to this account's view (else the catalog answers alone). */
    contributes (accountId: number): boolean {
      sync()
      return upstreams.some((u) => visibleTo(accountId, u))
    },
    /** packages.json for an account: its local names, the mirrored ones and the lazy patterns. */
    root (accountId: number, baseUrl: string, local: readonly string[], isLocal: (name: string) => boolean): EncodedBody {
      const view = accountMirror(accountId, local, isLocal)
      let body = view.roots.get(baseUrl)
      if (body === undefined) {
        body = encodedBody(Buffer.from(JSON.stringify(rootDocument(baseUrl, [...local, ...view.names].sort(), view.patterns))))
        if (view.roots.size < BASES_PER_DOCUMENT) view.roots.set(baseUrl, body)
      }
      return body
    },
    /** A mirrored p2 document (the caller has checked that no local package has this name). */
    document (accountId: number, name: string, dev: boolean, baseUrl: string): { body: EncodedBody, updatedAt: number, lastModified: string } | undefined {
      const found = source(accountId, name)
      if (found === undefined) return undefined
      const { u, p } = found
      if (p.checkedAt === null || nowSeconds() - p.checkedAt >= opts.maxAgeSeconds) refreshInBackground(u, name)
      const key = `${u.id}:${name}${dev ? '~dev' : ''}`
      let entry = docs.get(key)
      if (entry === undefined || entry.updatedAt !== p.metadataUpdatedAt) {
        entry = { updatedAt: p.metadataUpdatedAt, lastModified: new Date(p.metadataUpdatedAt * 1000).toUTCString(), doc: buildDoc(u, name, dev), byBase: new Map() }
        if (docs.size >= 10_000) docs.delete(docs.keys().next().value!)
        docs.set(key, entry)
      }
      statsOf(u).cacheHits++
      if (entry.doc === null) return undefined
      let body = entry.byBase.get(baseUrl)
      if (body === undefined) {
        body = encodedBody(Buffer.from(withBaseUrl(entry.doc, baseUrl)))
        if (entry.byBase.size < BASES_PER_DOCUMENT) entry.byBase.set(baseUrl, body)
      }
      return { body, updatedAt: entry.updatedAt, lastModified: entry.lastModified }
    },
    /** Whether any upstream serves this name to some account (approved, fetched, or matching a lazy upstream's patterns): an advisory may target it. */
    servesName (name: string): boolean {
      if (!isValidPackageName(name)) return false
      sync()
      return upstreams.some((u) => serves(u, name))
    },
    /** Whether an upstream this account sees might have the name but it has not been fetched (recently). */
    mayFetch (accountId: number, name: string): boolean {
      if (!isValidPackageName(name)) return false
      sync()
      if (source(accountId, name) !== undefined) return false
      return upstreams.some((u) => {
        if (!visibleTo(accountId, u) || !serves(u, name)) return false
        const p = known.get(u.id)?.get(name)
        return p?.checkedAt == null || nowSeconds() - p.checkedAt >= opts.maxAgeSeconds
      })
    },
    /**
     * Fetches a name from the upstreams that may serve it, in order, until one has it. Throws a
     * 502 when no upstream answered and none had it: Composer shows the message.
     */
    async fetchLazy (accountId: number, name: string): Promise<void> {
      sync()
      const failures: string[] = []
      for (const u of upstreams) {
        if (!visibleTo(accountId, u) || !serves(u, name)) continue
        try {
          await refresh(u, name)
        } catch (err) {
          failures.push(`${u.name}: ${(err as Error).message}`)
          continue
        }
        if (source(accountId, name) !== undefined) return
      }
      if (failures.length > 0 && source(accountId, name) === undefined) {
        throw upstreamUnavailable(`${name} is not cached yet and the upstream could not be reached (${failures.join('; ')})`)
      }
    },
    /**
     * A mirrored archive for this account: from the store, or fetched once from upstream,
     * checked and stored first. 404 for what the account cannot see.
     */
    async archive (accountId: number, upstreamName: string, name: string, versionNormalized: string): Promise<{ sha256: string, sha1: string, size: number, fetchedAt: string }> {
      sync()
      const u = upstreams.find((x) => x.name === upstreamName)
      const missing = (): PackyardError => errors.notFound(`archive ${upstreamName}/${name}/${versionNormalized}`)
      if (u === undefined || !visibleTo(accountId, u) || !serves(u, name)) throw missing()
      const v = mirror.version(u.id, name, versionNormalized)
      if (v === undefined) throw missing()
      try {
        return { ...await archiveFile(u, v), fetchedAt: v.fetchedAt }
      } catch (err) {
        if (err instanceof UpstreamHttpError || err instanceof UpstreamFormatError) {
          throw upstreamUnavailable(`${name} ${v.version} is not cached yet and upstream ${u.name} failed: ${err.message}`)
        }
        throw err
      }
    },
    /**
     * Security advisories of the mirrored names this account installs from an upstream, from
     * that upstream's `security-advisories` api-url (with its credentials), stored with their
     * fetch time and served stale while it fails. Names a local package has are the caller's.
     */
    async advisories (accountId: number, names: string[]): Promise<Map<string, ComposerAdvisory[]>> {
      sync()
      const byUpstream = new Map<Upstream, string[]>()
      for (const name of names) {
        const found = source(accountId, name)
        if (found === undefined) continue
        const list = byUpstream.get(found.u)
        if (list === undefined) byUpstream.set(found.u, [name])
        else list.push(name)
      }
      const out = new Map<string, ComposerAdvisory[]>()
      for (const lists of await Promise.all([...byUpstream].map(([u, list]) => upstreamAdvisories(u, list)))) {
        for (const [name, advisories] of lists) out.set(name, advisories)
      }
      return out
    },
    openArchive (sha256: string): Promise<FileHandle> {
      return store.open(sha256)
    },

    // --- operator commands -------------------------------------------------------------

    async add (input: { name: string, url: string, mode?: string | undefined, access?: string | undefined, patterns?: string[] | undefined }): Promise<{ name: string, url: string, mode: UpstreamMode, access: UpstreamAccess }> {
      if (!UPSTREAM_NAME.test(input.name)) throw errors.badRequest(`invalid upstream name "${input.name}": use lowercase letters, digits, dots, dashes or underscores`)
      let url: URL
      try { url = new URL(input.url) } catch { throw errors.badRequest(`invalid upstream URL "${input.url}": use an absolute http(s) URL`) }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw errors.badRequest('invalid upstream URL: use http or https')
      if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
        throw errors.badRequest('invalid upstream URL: no credentials, query or fragment (credentials go in the upstream auth file, PACKYARD_UPSTREAM_AUTH_FILE)')
      }
      const mode = input.mode ?? 'lazy'
      if (mode !== 'lazy' && mode !== 'approved') throw errors.badRequest(`invalid mode "${mode}": use lazy or approved`)
      const access = input.access ?? 'all'
      if (access !== 'all' && access !== 'granted') throw errors.badRequest(`invalid access "${access}": use all or granted`)
      const clean = `${url.origin}${url.pathname.replace(/\/packages\.json$/, '').replace(/\/+$/, '')}`
      let patterns = input.patterns === undefined ? undefined : checkPatterns(input.patterns)
      const u = transaction(() => mirror.insertUpstream({ name: input.name, url: clean, mode, access, patterns: patterns ?? [] }))()
      if (patterns === undefined && mode === 'lazy') {
        // The upstream's own available-packages / patterns, as vendor patterns; none when it lists nothing.
        try {
          const { root, providers, inline } = await rootOf(u, true)
          patterns = vendorPatterns([...root.availablePackages, ...(providers?.keys() ?? []), ...(inline?.keys() ?? [])], root.availablePatterns)
          transaction(() => mirror.setPatterns(u.id, patterns!))()
        } catch (err) {
          opts.log?.('upstream not reachable while adding; no patterns', { upstream: u.name, error: (err as Error).message })
        }
      }
      return { name: u.name, url: u.url, mode: u.mode, access: u.access }
    },
    list (): UpstreamStatus[] {
      const counts = mirror.counts()
      return mirror.upstreams().map((u) => ({
        healthy: isHealthy(u),
        name: u.name,
        url: u.url,
        mode: u.mode,
        access: u.access,
        patterns: u.patterns,
        lastSuccessAt: u.lastSuccessAt,
        lastErrorAt: u.lastErrorAt,
        lastError: u.lastError,
        ...(counts.get(u.id) ?? { packages: 0, versions: 0, archives: 0 })
      }))
    },
    /** Health of every upstream, read from the database (the CLI's `upstream sync` counts too). */
    health (): UpstreamHealth[] {
      return mirror.upstreams().map((u) => ({ name: u.name, healthy: isHealthy(u), lastSuccessAt: u.lastSuccessAt, lastErrorAt: u.lastErrorAt, lastError: u.lastError }))
    },
    remove (name: string): { name: string, removed: true } {
      const u = upstreamNamed(name)
      transaction(() => mirror.deleteUpstream(u.id))()
      return { name: u.name, removed: true }
    },
    approve (upstreamName: string, packageName: string, approved: boolean): { upstream: string, package: string, approved: boolean } {
      const u = upstreamNamed(upstreamName)
      const name = packageName.toLowerCase()
      if (!isValidPackageName(name)) throw errors.invalidPackageName(packageName)
      transaction(() => { mirror.ensurePackage(u.id, name); mirror.setApproved(u.id, name, approved) })()
      return { upstream: u.name, package: name, approved }
    },
    grant (username: string, upstreamName: string, grant: boolean): { username: string, upstream: string, granted: boolean } {
      const account = opts.accounts.get(username)
      const u = upstreamNamed(upstreamName)
      transaction(() => grant ? mirror.grant(account.id, u.id) : mirror.revoke(account.id, u.id))()
      return { username: account.username, upstream: u.name, granted: grant }
    },
    /**
     * Refreshes every approved (approved mode) or already known (lazy mode) name of one or all
     * upstreams now. A failure does not stop the rest: each is one line in `errors` (the
     * upstream's own message, or `<package>: <message>`), and `ok` is false.
     */
    async sync (upstreamName?: string): Promise<SyncResult[]> {
      const list = upstreamName === undefined ? mirror.upstreams() : [upstreamNamed(upstreamName)]
      const out: SyncResult[] = []
      for (const u of list) {
        const result = { upstream: u.name, ok: true, packages: 0, updated: 0, errors: [] as string[] }
        try {
          const { root } = await rootOf(u, true)
          // With a changes feed, only the names it reports (or cannot vouch for) are asked.
          let feed: FeedOutcome | undefined
          if (root.protocol === 'v2' && root.changesUrl !== undefined) {
            try {
              feed = await readFeed(u, root.changesUrl)
            } catch (err) {
              opts.log?.('upstream changes feed failed; asking each package', { upstream: u.name, error: (err as Error).message })
            }
          }
          for (const p of mirror.packagesOf(u.id)) {
            if (u.mode === 'approved' && !p.approved) continue
            result.packages++
            const failure = feed?.failed.get(p.name)
            if (failure !== undefined) {
              result.errors.push(`${p.name}: ${failure}`)
              continue
            }
            if (feed?.current.has(p.name) === true) {
              if (feed.updated.has(p.name)) result.updated++
              continue
            }
            try {
              if (await refresh(u, p.name, true)) result.updated++
            } catch (err) {
              result.errors.push(`${p.name}: ${(err as Error).message}`)
            }
          }
        } catch (err) {
          result.errors.push((err as Error).message)
        }
        result.errors = result.errors.map(oneLine)
        result.ok = result.errors.length === 0
        out.push(result)
      }
      return out
    },
    /** For /metrics: counters per upstream, and the age of the oldest stored metadata. */
    stats (): Array<{ upstream: string, oldestMetadataSeconds: number } & UpstreamStats> {
      sync()
      const now = nowSeconds()
      return upstreams.map((u) => {
        let oldest = now
        for (const p of known.get(u.id)?.values() ?? []) if (hasData(p) && p.checkedAt !== null && p.checkedAt < oldest) oldest = p.checkedAt
        return { upstream: u.name, ...statsOf(u), oldestMetadataSeconds: now - oldest }
      })
    },
    /** Where background failures are logged (the server's logger). */
    setLog (log: (msg: string, detail: Record<string, unknown>) => void): void {
      opts.log = log
    },
    /** Waits for background refreshes (tests, shutdown). */
    async settle (): Promise<void> {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight.values()])
    }
  }
}

export type MirrorService = ReturnType<typeof createMirrorService>
