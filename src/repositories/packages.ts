import type { Db } from '../db/database.js'
import { errors } from '../errors.js'
import type { Access, NewVersion, Package, SearchCandidate, VersionRecord } from '../domain/catalog.js'

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

/**
 * The visibility rule, written once: a package is visible to an account (`@account`) when it
 * is public or the account holds a grant for it. Every query that lists, checks or searches
 * packages for an account filters with it, on `packages p`.
 */
const VISIBLE_TO_ACCOUNT = '(p.access = \'public\' OR EXISTS (SELECT 1 FROM grants g WHERE g.package_id = p.id AND g.account_id = @account))'

const PKG = 'id, name, access, metadata_updated_at'
const VER = 'id, package_id, version, version_normalized, dist_file, shasum, sha256, size, manifest, released_at, downloads'

/**
 * Packages, their versions and the grants that open restricted packages to accounts.
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
  const visibleToAccount = db.prepare<[{ account: number }], { name: string }>(
    `SELECT p.name FROM packages p WHERE ${VISIBLE_TO_ACCOUNT} ORDER BY p.name`)
  const visibleById = db.prepare<[{ account: number, package: number }], { n: number }>(
    `SELECT count(*) AS n FROM packages p WHERE p.id = @package AND ${VISIBLE_TO_ACCOUNT}`)
  const catalogRevision = db.prepare<[], { revision: number }>('SELECT revision FROM catalog_revision WHERE id = 1')
  const insertGrant = db.prepare<[number, number, string], void>(
    'INSERT OR IGNORE INTO grants (account_id, package_id, created_at) VALUES (?, ?, ?)')
  const deleteGrant = db.prepare<[number, number], void>('DELETE FROM grants WHERE account_id = ? AND package_id = ?')
  // Every version's description and type: which version is the newest is Composer's version
  // order, which SQL does not know, so the service picks it. The query keeps only packages
  // whose name or some description matches (a superset of the final answer).
  const searchVisible = db.prepare<[{ account: number, query: string }], { name: string, versions: string, downloads: number }>(
    `SELECT p.name,
            (SELECT json_group_array(json_array(v.version_normalized, json_extract(v.manifest, '$.description'), json_extract(v.manifest, '$.type')))
               FROM versions v WHERE v.package_id = p.id) AS versions,
            (SELECT coalesce(sum(v.downloads), 0) FROM versions v WHERE v.package_id = p.id) AS downloads
     FROM packages p
     WHERE ${VISIBLE_TO_ACCOUNT}
       AND (instr(lower(p.name), lower(@query)) > 0
            OR EXISTS (SELECT 1 FROM versions v WHERE v.package_id = p.id
                       AND instr(lower(coalesce(json_extract(v.manifest, '$.description'), '')), lower(@query)) > 0))
     ORDER BY p.name`)

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
      return visibleToAccount.all({ account: accountId }).map((r) => r.name)
    },
    /** Bumped by triggers on every package or grant change, by any process. */
    revision (): number {
      return catalogRevision.get()!.revision
    },
    isVisible (pkg: Package, accountId: number): boolean {
      return visibleById.get({ account: accountId, package: pkg.id })!.n > 0
    },
    grant (accountId: number, packageId: number): void {
      insertGrant.run(accountId, packageId, new Date().toISOString())
    },
    revoke (accountId: number, packageId: number): void {
      deleteGrant.run(accountId, packageId)
    },
    /** Visible packages whose name or any version's description contains `query`, with every version's description and type. */
    searchCandidates (accountId: number, query: string): SearchCandidate[] {
      return searchVisible.all({ account: accountId, query }).map((r) => ({
        name: r.name,
        downloads: r.downloads,
        versions: (JSON.parse(r.versions) as Array<[string, unknown, unknown]>).map(([versionNormalized, description, type]) => ({
          versionNormalized,
          description: typeof description === 'string' ? description : null,
          type: typeof type === 'string' ? type : null
        }))
      }))
    }
  }
}

export type PackagesRepository = ReturnType<typeof createPackagesRepository>
