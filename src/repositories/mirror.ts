import type { Db } from '../db/database.js'
import { errors } from '../errors.js'
import { immediate } from './transaction.js'

export type UpstreamMode = 'lazy' | 'approved'
export type UpstreamAccess = 'all' | 'granted'

export interface Upstream {
  id: number
  name: string
  url: string
  mode: UpstreamMode
  access: UpstreamAccess
  patterns: string[]
  createdAt: string
  lastSuccessAt: string | null
  lastErrorAt: string | null
  lastError: string | null
}

export interface UpstreamPackage {
  upstreamId: number
  name: string
  approved: boolean
  checkedAt: number | null
  validator: string | null
  metadataUpdatedAt: number
  /** The upstream's changes-feed epoch when this name was last asked upstream itself (migrations/014). */
  changesEpoch: number | null
}

/** Where an upstream's metadata-changes-url feed is followed from (migrations/014). */
export interface ChangesFeed { timestamp: number | null, epoch: number }

export interface MirroredVersion {
  upstreamId: number
  name: string
  version: string
  versionNormalized: string
  metadata: Record<string, unknown>
  distUrl: string
  distShasum: string
  fetchedAt: string
  sha256: string | null
  sha1: string | null
  size: number | null
}

interface UpstreamRow {
  id: number
  name: string
  url: string
  mode: UpstreamMode
  access: UpstreamAccess
  patterns: string
  created_at: string
  last_success_at: string | null
  last_error_at: string | null
  last_error: string | null
}
interface PackageRow { upstream_id: number, name: string, approved: number, checked_at: number | null, validator: string | null, metadata_updated_at: number, changes_epoch: number | null }
interface VersionRow {
  upstream_id: number
  name: string
  version: string
  version_normalized: string
  metadata: string
  dist_url: string
  dist_shasum: string
  fetched_at: string
  sha256: string | null
  sha1: string | null
  size: number | null
}

const toUpstream = (r: UpstreamRow): Upstream => ({
  id: r.id,
  name: r.name,
  url: r.url,
  mode: r.mode,
  access: r.access,
  patterns: JSON.parse(r.patterns) as string[],
  createdAt: r.created_at,
  lastSuccessAt: r.last_success_at,
  lastErrorAt: r.last_error_at,
  lastError: r.last_error
})
const toPackage = (r: PackageRow): UpstreamPackage => ({
  upstreamId: r.upstream_id, name: r.name, approved: r.approved === 1, checkedAt: r.checked_at, validator: r.validator, metadataUpdatedAt: r.metadata_updated_at, changesEpoch: r.changes_epoch
})
const toVersion = (r: VersionRow): MirroredVersion => ({
  upstreamId: r.upstream_id,
  name: r.name,
  version: r.version,
  versionNormalized: r.version_normalized,
  metadata: JSON.parse(r.metadata) as Record<string, unknown>,
  distUrl: r.dist_url,
  distShasum: r.dist_shasum,
  fetchedAt: r.fetched_at,
  sha256: r.sha256,
  sha1: r.sha1,
  size: r.size
})

const UP = 'id, name, url, mode, access, patterns, created_at, last_success_at, last_error_at, last_error'
const PKG = 'upstream_id, name, approved, checked_at, validator, metadata_updated_at, changes_epoch'
const VER = 'upstream_id, name, version, version_normalized, metadata, dist_url, dist_shasum, fetched_at, sha256, sha1, size'

/** Upstreams, the names known from them, their mirrored versions and the upstream grants. */
export function createMirrorRepository (db: Db) {
  const insertUpstream = db.prepare<[string, string, UpstreamMode, UpstreamAccess, string, string], void>(
    'INSERT INTO upstreams (name, url, mode, access, patterns, created_at) VALUES (?, ?, ?, ?, ?, ?)')
  const upstreamByName = db.prepare<[string], UpstreamRow>(`SELECT ${UP} FROM upstreams WHERE name = ?`)
  const allUpstreams = db.prepare<[], UpstreamRow>(`SELECT ${UP} FROM upstreams ORDER BY id`)
  const deleteUpstream = db.prepare<[number], void>('DELETE FROM upstreams WHERE id = ?')
  const setPatterns = db.prepare<[string, number], void>('UPDATE upstreams SET patterns = ? WHERE id = ?')
  const markSuccess = db.prepare<[string, number], void>('UPDATE upstreams SET last_success_at = ? WHERE id = ?')
  const markError = db.prepare<[string, string, number], void>('UPDATE upstreams SET last_error_at = ?, last_error = ? WHERE id = ?')
  const allPackages = db.prepare<[], PackageRow>(`SELECT ${PKG} FROM upstream_packages ORDER BY name`)
  const packageOf = db.prepare<[number, string], PackageRow>(`SELECT ${PKG} FROM upstream_packages WHERE upstream_id = ? AND name = ?`)
  const packagesOf = db.prepare<[number], PackageRow>(`SELECT ${PKG} FROM upstream_packages WHERE upstream_id = ? ORDER BY name`)
  const insertPackage = db.prepare<[number, string], void>('INSERT OR IGNORE INTO upstream_packages (upstream_id, name) VALUES (?, ?)')
  const setApproved = db.prepare<[number, number, string], void>('UPDATE upstream_packages SET approved = ? WHERE upstream_id = ? AND name = ?')
  const setChecked = db.prepare<[number, string | null, number, number, string], void>(
    'UPDATE upstream_packages SET checked_at = ?, validator = ?, changes_epoch = ? WHERE upstream_id = ? AND name = ?')
  const confirmChecked = db.prepare<[number, number, number, string], void>(
    'UPDATE upstream_packages SET checked_at = ? WHERE upstream_id = ? AND changes_epoch = ? AND name IN (SELECT value FROM json_each(?))')
  const feedOf = db.prepare<[number], { changes_timestamp: number | null, changes_epoch: number }>('SELECT changes_timestamp, changes_epoch FROM upstreams WHERE id = ?')
  const restartFeed = db.prepare<[number, number], void>('UPDATE upstreams SET changes_timestamp = ?, changes_epoch = changes_epoch + 1 WHERE id = ?')
  const advanceFeed = db.prepare<[number, number, number], void>('UPDATE upstreams SET changes_timestamp = ? WHERE id = ? AND changes_epoch = ?')
  const setUpdated = db.prepare<[number, number, string], void>(
    'UPDATE upstream_packages SET metadata_updated_at = ? WHERE upstream_id = ? AND name = ?')
  const versionsOf = db.prepare<[number, string], VersionRow>(`SELECT ${VER} FROM mirrored_versions WHERE upstream_id = ? AND name = ?`)
  const versionOf = db.prepare<[number, string, string], VersionRow>(
    `SELECT ${VER} FROM mirrored_versions WHERE upstream_id = ? AND name = ? AND version_normalized = ?`)
  const upsertVersion = db.prepare<[number, string, string, string, string, string, string, string], void>(
    `INSERT INTO mirrored_versions (upstream_id, name, version, version_normalized, metadata, dist_url, dist_shasum, fetched_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (upstream_id, name, version_normalized) DO UPDATE SET
       version = excluded.version, metadata = excluded.metadata, fetched_at = excluded.fetched_at,
       -- A new dist (a re-tagged version) drops the local copy's link; the old file stays in the store.
       sha256 = CASE WHEN dist_url = excluded.dist_url AND dist_shasum = excluded.dist_shasum THEN sha256 ELSE NULL END,
       sha1 = CASE WHEN dist_url = excluded.dist_url AND dist_shasum = excluded.dist_shasum THEN sha1 ELSE NULL END,
       size = CASE WHEN dist_url = excluded.dist_url AND dist_shasum = excluded.dist_shasum THEN size ELSE NULL END,
       dist_url = excluded.dist_url, dist_shasum = excluded.dist_shasum`)
  const setArchive = db.prepare<[string, string, number, number, string, string], void>(
    'UPDATE mirrored_versions SET sha256 = ?, sha1 = ?, size = ? WHERE upstream_id = ? AND name = ? AND version_normalized = ?')
  const insertGrant = db.prepare<[number, number, string], void>('INSERT OR IGNORE INTO upstream_grants (account_id, upstream_id, created_at) VALUES (?, ?, ?)')
  const deleteGrant = db.prepare<[number, number], void>('DELETE FROM upstream_grants WHERE account_id = ? AND upstream_id = ?')
  const allGrants = db.prepare<[], { account_id: number, upstream_id: number }>('SELECT account_id, upstream_id FROM upstream_grants')
  const advisoriesOf = db.prepare<[number, string], { name: string, advisories: string, fetched_at: number }>(
    'SELECT name, advisories, fetched_at FROM upstream_advisories WHERE upstream_id = ? AND name IN (SELECT value FROM json_each(?))')
  const upsertAdvisories = db.prepare<[number, string, string, number], void>(
    `INSERT INTO upstream_advisories (upstream_id, name, advisories, fetched_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (upstream_id, name) DO UPDATE SET advisories = excluded.advisories, fetched_at = excluded.fetched_at`)
  const counts = db.prepare<[], { upstream_id: number, packages: number, versions: number, archives: number }>(
    `SELECT upstream_id, count(DISTINCT name) AS packages, count(*) AS versions, count(sha256) AS archives
     FROM mirrored_versions GROUP BY upstream_id`)

  return {
    insertUpstream (input: { name: string, url: string, mode: UpstreamMode, access: UpstreamAccess, patterns: string[] }): Upstream {
      try {
        insertUpstream.run(input.name, input.url, input.mode, input.access, JSON.stringify(input.patterns), new Date().toISOString())
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw errors.conflict(`upstream "${input.name}" already exists`)
        throw err
      }
      return toUpstream(upstreamByName.get(input.name)!)
    },
    upstream: (name: string): Upstream | undefined => { const r = upstreamByName.get(name); return r === undefined ? undefined : toUpstream(r) },
    upstreams: (): Upstream[] => allUpstreams.all().map(toUpstream),
    deleteUpstream: (id: number): void => { deleteUpstream.run(id) },
    setPatterns: (id: number, patterns: string[]): void => { setPatterns.run(JSON.stringify(patterns), id) },
    markSuccess: (id: number): void => { markSuccess.run(new Date().toISOString(), id) },
    markError: (id: number, message: string): void => { markError.run(new Date().toISOString(), message.slice(0, 500), id) },
    packages: (): UpstreamPackage[] => allPackages.all().map(toPackage),
    packagesOf: (upstreamId: number): UpstreamPackage[] => packagesOf.all(upstreamId).map(toPackage),
    package: (upstreamId: number, name: string): UpstreamPackage | undefined => { const r = packageOf.get(upstreamId, name); return r === undefined ? undefined : toPackage(r) },
    ensurePackage: (upstreamId: number, name: string): void => { insertPackage.run(upstreamId, name) },
    setApproved: (upstreamId: number, name: string, approved: boolean): void => { setApproved.run(approved ? 1 : 0, upstreamId, name) },
    /** An answer from upstream for this name: when it was asked, what makes the next ask conditional, and the feed epoch it was asked in. */
    setChecked: (upstreamId: number, name: string, checkedAt: number, validator: string | null, changesEpoch: number): void => {
      setChecked.run(checkedAt, validator, changesEpoch, upstreamId, name)
    },
    /** Names the changes feed vouches for (asked upstream within this epoch, and not named by the feed since): current as of `checkedAt`. */
    confirmChecked: (upstreamId: number, changesEpoch: number, names: string[], checkedAt: number): void => {
      confirmChecked.run(checkedAt, upstreamId, changesEpoch, JSON.stringify(names))
    },
    changesFeed: (upstreamId: number): ChangesFeed => {
      const r = feedOf.get(upstreamId)
      return { timestamp: r?.changes_timestamp ?? null, epoch: r?.changes_epoch ?? 0 }
    },
    /** Follows the feed from this timestamp in a new epoch: nothing asked before is vouched for any more. */
    restartChangesFeed: (upstreamId: number, timestamp: number): void => { restartFeed.run(timestamp, upstreamId) },
    /** The next timestamp to ask from, unless following restarted (another epoch) meanwhile. */
    advanceChangesFeed: (upstreamId: number, changesEpoch: number, timestamp: number): void => { advanceFeed.run(timestamp, upstreamId, changesEpoch) },
    setUpdated: (upstreamId: number, name: string, updatedAt: number): void => { setUpdated.run(updatedAt, upstreamId, name) },
    versions: (upstreamId: number, name: string): MirroredVersion[] => versionsOf.all(upstreamId, name).map(toVersion),
    version: (upstreamId: number, name: string, versionNormalized: string): MirroredVersion | undefined => {
      const r = versionOf.get(upstreamId, name, versionNormalized)
      return r === undefined ? undefined : toVersion(r)
    },
    upsertVersion (v: { upstreamId: number, name: string, version: string, versionNormalized: string, metadata: string, distUrl: string, distShasum: string }): void {
      upsertVersion.run(v.upstreamId, v.name, v.version, v.versionNormalized, v.metadata, v.distUrl, v.distShasum, new Date().toISOString())
    },
    setArchive (upstreamId: number, name: string, versionNormalized: string, archive: { sha256: string, sha1: string, size: number }): void {
      setArchive.run(archive.sha256, archive.sha1, archive.size, upstreamId, name, versionNormalized)
    },
    grant: (accountId: number, upstreamId: number): void => { insertGrant.run(accountId, upstreamId, new Date().toISOString()) },
    revoke: (accountId: number, upstreamId: number): void => { deleteGrant.run(accountId, upstreamId) },
    grants: (): Array<{ accountId: number, upstreamId: number }> => allGrants.all().map((g) => ({ accountId: g.account_id, upstreamId: g.upstream_id })),
    /** Stored upstream advisories of these names: the JSON list and when it was fetched (Unix seconds). */
    advisories: (upstreamId: number, names: string[]): Map<string, { advisories: string, fetchedAt: number }> =>
      new Map(advisoriesOf.all(upstreamId, JSON.stringify(names)).map((r) => [r.name, { advisories: r.advisories, fetchedAt: r.fetched_at }])),
    storeAdvisories: immediate(db, (upstreamId: number, lists: Map<string, string>, fetchedAt: number): void => {
      for (const [name, json] of lists) upsertAdvisories.run(upstreamId, name, json, fetchedAt)
    }),
    counts: () => new Map(counts.all().map((c) => [c.upstream_id, { packages: c.packages, versions: c.versions, archives: c.archives }]))
  }
}

export type MirrorRepository = ReturnType<typeof createMirrorRepository>
