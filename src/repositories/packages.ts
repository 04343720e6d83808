import type { Db } from '../db/database.js'
import { errors } from '../errors.js'

export type Access = 'public' | 'restricted'

export interface Package {
  id: number
  name: string
  access: Access
  metadataUpdatedAt: number
}

export interface VersionRecord {
  id: number
  packageId: number
  version: string
  versionNormalized: string
  distFile: string
  shasum: string
  sha256: string
  size: number
  manifest: Record<string, unknown>
  releasedAt: string
  downloads: number
}

export interface NewVersion {
  version: string
  versionNormalized: string
  distFile: string
  shasum: string
  sha256: string
  size: number
  manifest: Record<string, unknown>
  releasedAt: string
}

interface PackageRow { id: number, name: string, access: Access, metadata_updated_at: number }
interface VersionRow {
  id: number
  package_id: number
  version: string
  version_normalized: string
  dist_file: string
  shasum: string
  sha256: string
  size: number
  manifest: string
  released_at: string
  downloads: number
}

const toPackage = (r: PackageRow): Package => ({ id: r.id, name: r.name, access: r.access, metadataUpdatedAt: r.metadata_updated_at })
const toVersion = (r: VersionRow): VersionRecord => ({
  id: r.id,
  packageId: r.package_id,
  version: r.version,
  versionNormalized: r.version_normalized,
  distFile: r.dist_file,
  shasum: r.shasum,
  sha256: r.sha256,
  size: r.size,
  manifest: JSON.parse(r.manifest) as Record<string, unknown>,
  releasedAt: r.released_at,
  downloads: r.downloads
})

const PKG = 'id, name, access, metadata_updated_at'
const VER = 'id, package_id, version, version_normalized, dist_file, shasum, sha256, size, manifest, released_at, downloads'

/**
 * Packages, their versions and the grants that open restricted packages to accounts.
 * Visibility rule, in one place: a package is visible to an account when it is public
 * or the account holds a grant for it.
 */
export function createPackagesRepository (db: Db) {
  const byName = db.prepare<[string], PackageRow>(`SELECT ${PKG} FROM packages WHERE name = ?`)
  const insertPackage = db.prepare<[string, Access, string, number], void>(
    'INSERT INTO packages (name, access, created_at, metadata_updated_at) VALUES (?, ?, ?, ?)')
  const setAccess = db.prepare<[Access, number], void>('UPDATE packages SET access = ? WHERE id = ?')
  const setMetadata = db.prepare<[string | null, string | null, number, number], void>(
    'UPDATE packages SET metadata = ?, metadata_dev = ?, metadata_updated_at = ? WHERE id = ?')
  const metadataOf = db.prepare<[number], { metadata: string | null, metadata_dev: string | null, metadata_updated_at: number }>(
    'SELECT metadata, metadata_dev, metadata_updated_at FROM packages WHERE id = ?')
  const allPackages = db.prepare<[], PackageRow>(`SELECT ${PKG} FROM packages ORDER BY name`)
  const versionsOf = db.prepare<[number], VersionRow>(`SELECT ${VER} FROM versions WHERE package_id = ?`)
  const versionByNormalized = db.prepare<[number, string], VersionRow>(
    `SELECT ${VER} FROM versions WHERE package_id = ? AND version_normalized = ?`)
  const versionByDistFile = db.prepare<[number, string], VersionRow>(`SELECT ${VER} FROM versions WHERE package_id = ? AND dist_file = ?`)
  const insertVersion = db.prepare<[number, string, string, string, string, string, number, string, string], void>(
    `INSERT INTO versions (package_id, version, version_normalized, dist_file, shasum, sha256, size, manifest, released_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
  const countDownload = db.prepare<[number, string], void>(
    'UPDATE versions SET downloads = downloads + 1 WHERE package_id = ? AND version_normalized = ?')
  // Public packages plus this account's grants of restricted ones (disjoint, so UNION ALL).
  const visibleToAccount = db.prepare<[number], { name: string }>(
    `SELECT name FROM packages WHERE access = 'public'
     UNION ALL
     SELECT p.name FROM grants g JOIN packages p ON p.id = g.package_id WHERE g.account_id = ? AND p.access = 'restricted'
     ORDER BY name`)
  const catalogRevision = db.prepare<[], { revision: number }>('SELECT revision FROM catalog_revision WHERE id = 1')
  const hasGrant = db.prepare<[number, number], { n: number }>(
    'SELECT count(*) AS n FROM grants WHERE account_id = ? AND package_id = ?')
  const insertGrant = db.prepare<[number, number, string], void>(
    'INSERT OR IGNORE INTO grants (account_id, package_id, created_at) VALUES (?, ?, ?)')
  const deleteGrant = db.prepare<[number, number], void>('DELETE FROM grants WHERE account_id = ? AND package_id = ?')
  // Named parameters: better-sqlite3 rejects numbered ones (?1, ?2) passed positionally.
  const searchVisible = db.prepare<[{ account: number, query: string }], { name: string, description: string | null, type: string | null, downloads: number }>(
    `SELECT p.name, (SELECT json_extract(v.manifest, '$.description') FROM versions v WHERE v.package_id = p.id ORDER BY v.id DESC LIMIT 1) AS description,
            (SELECT coalesce(json_extract(v.manifest, '$.type'), 'library') FROM versions v WHERE v.package_id = p.id ORDER BY v.id DESC LIMIT 1) AS type,
            (SELECT coalesce(sum(v.downloads), 0) FROM versions v WHERE v.package_id = p.id) AS downloads
     FROM packages p
     WHERE (p.access = 'public' OR EXISTS (SELECT 1 FROM grants g WHERE g.package_id = p.id AND g.account_id = @account))
       AND instr(lower(p.name || ' ' || coalesce((SELECT json_extract(v.manifest, '$.description') FROM versions v WHERE v.package_id = p.id ORDER BY v.id DESC LIMIT 1), '')), lower(@query)) > 0
     ORDER BY p.name LIMIT 100`)

  return {
    findByName (name: string): Package | undefined {
      const r = byName.get(name)
      return r === undefined ? undefined : toPackage(r)
    },
    insert (name: string, access: Access, metadataUpdatedAt: number): Package {
      insertPackage.run(name, access, new Date().toISOString(), metadataUpdatedAt)
      return toPackage(byName.get(name)!)
    },
    setAccess (id: number, access: Access): void {
      setAccess.run(access, id)
    },
    saveMetadata (id: number, stable: string | null, dev: string | null, updatedAt: number): void {
      setMetadata.run(stable, dev, updatedAt, id)
    },
    metadata (id: number): { stable: string | null, dev: string | null, updatedAt: number } | undefined {
      const r = metadataOf.get(id)
      return r === undefined ? undefined : { stable: r.metadata, dev: r.metadata_dev, updatedAt: r.metadata_updated_at }
    },
    list (): Package[] {
      return allPackages.all().map(toPackage)
    },
    versions (packageId: number): VersionRecord[] {
      return versionsOf.all(packageId).map(toVersion)
    },
    findVersion (packageId: number, versionNormalized: string): VersionRecord | undefined {
      const r = versionByNormalized.get(packageId, versionNormalized)
      return r === undefined ? undefined : toVersion(r)
    },
    findVersionByDistFile (packageId: number, distFile: string): VersionRecord | undefined {
      const r = versionByDistFile.get(packageId, distFile)
      return r === undefined ? undefined : toVersion(r)
    },
    insertVersion (packageId: number, v: NewVersion): void {
      try {
        insertVersion.run(packageId, v.version, v.versionNormalized, v.distFile, v.shasum, v.sha256, v.size, JSON.stringify(v.manifest), v.releasedAt)
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw errors.conflict(`version ${v.version} already exists`)
        throw err
      }
    },
    countDownload (packageId: number, versionNormalized: string): void {
      countDownload.run(packageId, versionNormalized)
    },
    visibleNames (accountId: number): string[] {
      return visibleToAccount.all(accountId).map((r) => r.name)
    },
    /** Bumped by triggers on every package or grant change, by any process. */
    revision (): number {
      return catalogRevision.get()!.revision
    },
    isVisible (pkg: Package, accountId: number): boolean {
      return pkg.access === 'public' || hasGrant.get(accountId, pkg.id)!.n > 0
    },
    grant (accountId: number, packageId: number): void {
      insertGrant.run(accountId, packageId, new Date().toISOString())
    },
    revoke (accountId: number, packageId: number): void {
      deleteGrant.run(accountId, packageId)
    },
    search (accountId: number, query: string) {
      return searchVisible.all({ account: accountId, query })
    }
  }
}

export type PackagesRepository = ReturnType<typeof createPackagesRepository>
