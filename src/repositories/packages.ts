import type { Db } from '../db/database.js'
import { errors } from '../errors.js'
import type { Abandoned, Access, Entitlement, GrantRule, NewVersion, Package, SearchCandidate, Stability, VersionRecord } from '../domain/catalog.js'

interface PackageRow { id: number, name: string, access: Access, metadata_updated_at: number, abandoned: string | null }
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
  yanked_at: string | null
}
interface RuleColumns { version_constraint: string | null, updates_until: string | null, minimum_stability: Stability | null }

const toAbandoned = (stored: string | null): Abandoned => stored === null ? false : stored === '' ? true : stored
const toPackage = (r: PackageRow): Package => ({ id: r.id, name: r.name, access: r.access, metadataUpdatedAt: r.metadata_updated_at, abandoned: toAbandoned(r.abandoned) })
const toRule = (r: RuleColumns): GrantRule => ({ constraint: r.version_constraint, updatesUntil: r.updates_until, minimumStability: r.minimum_stability })
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
  downloads: r.downloads,
  yankedAt: r.yanked_at
})

/** The vendor part of `p.name` (`acme` of `acme/widget`), what a `vendor/*` grant names. */
const VENDOR_OF_P = 'substr(p.name, 1, instr(p.name, \'/\') - 1)'

/**
 * The visibility rule, written once: a package is visible to an account (`@account`) when it
 * is public or the account holds a grant for it or for its whole vendor (`vendor/*`). Every
 * query that lists, checks or searches packages for an account filters with it, on
 * `packages p`. Which versions a grant opens is `entitlement` below (an exact grant wins over
 * a vendor grant; a public package ignores grants), applied by the catalog view.
 */
const VISIBLE_TO_ACCOUNT = `(p.access = 'public'
  OR EXISTS (SELECT 1 FROM grants g WHERE g.package_id = p.id AND g.account_id = @account)
  OR EXISTS (SELECT 1 FROM vendor_grants vg WHERE vg.vendor = ${VENDOR_OF_P} AND vg.account_id = @account))`

interface EntitlementRow {
  name: string
  access: Access
  exact: number
  g_constraint: string | null
  g_until: string | null
  g_stability: Stability | null
  v_constraint: string | null
  v_until: string | null
  v_stability: Stability | null
}

/** The precedence of the visibility rule: public ignores grants, then the exact grant, then the vendor's. */
function entitlement (r: EntitlementRow): Entitlement {
  if (r.access === 'public') return { via: 'public' }
  if (r.exact === 1) return { via: 'package', rule: toRule({ version_constraint: r.g_constraint, updates_until: r.g_until, minimum_stability: r.g_stability }) }
  return { via: 'vendor', rule: toRule({ version_constraint: r.v_constraint, updates_until: r.v_until, minimum_stability: r.v_stability }) }
}

const PKG = 'id, name, access, metadata_updated_at, abandoned'
const VER = 'id, package_id, version, version_normalized, dist_file, shasum, sha256, size, manifest, released_at, downloads, yanked_at'
const RULE = 'version_constraint, updates_until, minimum_stability'

/**
 * Packages, their versions and the grants that open restricted packages to accounts.
 */
export function createPackagesRepository (db: Db) {
  const byName = db.prepare<[string], PackageRow>(`SELECT ${PKG} FROM packages WHERE name = ?`)
  const insertPackage = db.prepare<[string, Access, string, number], void>(
    'INSERT INTO packages (name, access, created_at, metadata_updated_at) VALUES (?, ?, ?, ?)')
  const setAccess = db.prepare<[Access, number], void>('UPDATE packages SET access = ? WHERE id = ?')
  // The documents live in package_documents (migrations/016); metadata_updated_at stays in
  // packages, where its trigger moves the catalog counter.
  const setDocuments = db.prepare<[number, string | null, string | null], void>(
    `INSERT INTO package_documents (package_id, metadata, metadata_dev) VALUES (?, ?, ?)
     ON CONFLICT (package_id) DO UPDATE SET metadata = excluded.metadata, metadata_dev = excluded.metadata_dev`)
  const setUpdatedAt = db.prepare<[number, number], void>('UPDATE packages SET metadata_updated_at = ? WHERE id = ?')
  const metadataOf = db.prepare<[number], { metadata: string | null, metadata_dev: string | null, metadata_updated_at: number }>(
    `SELECT d.metadata, d.metadata_dev, p.metadata_updated_at
     FROM packages p LEFT JOIN package_documents d ON d.package_id = p.id WHERE p.id = ?`)
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
  const countAccountDownload = db.prepare<[number, number], void>(
    'INSERT INTO account_downloads (account_id, version_id, count) VALUES (?, ?, 1) ON CONFLICT DO UPDATE SET count = count + 1')
  const visibleById = db.prepare<[{ account: number, package: number }], { n: number }>(
    `SELECT count(*) AS n FROM packages p WHERE p.id = @package AND ${VISIBLE_TO_ACCOUNT}`)
  const entitlements = db.prepare<[{ account: number }], EntitlementRow>(
    `SELECT p.name, p.access, g.account_id IS NOT NULL AS exact,
            g.version_constraint AS g_constraint, g.updates_until AS g_until, g.minimum_stability AS g_stability,
            vg.version_constraint AS v_constraint, vg.updates_until AS v_until, vg.minimum_stability AS v_stability
     FROM packages p
     LEFT JOIN grants g ON g.package_id = p.id AND g.account_id = @account
     LEFT JOIN vendor_grants vg ON vg.vendor = ${VENDOR_OF_P} AND vg.account_id = @account
     WHERE ${VISIBLE_TO_ACCOUNT} ORDER BY p.name`)
  // A second grant of the same package replaces its rule (create or replace).
  const insertGrant = db.prepare<[number, number, string, string | null, string | null, string | null], void>(
    `INSERT INTO grants (account_id, package_id, created_at, ${RULE}) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (account_id, package_id) DO UPDATE SET version_constraint = excluded.version_constraint,
       updates_until = excluded.updates_until, minimum_stability = excluded.minimum_stability`)
  const insertVendorGrant = db.prepare<[number, string, string, string | null, string | null, string | null], void>(
    `INSERT INTO vendor_grants (account_id, vendor, created_at, ${RULE}) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (account_id, vendor) DO UPDATE SET version_constraint = excluded.version_constraint,
       updates_until = excluded.updates_until, minimum_stability = excluded.minimum_stability`)
  const deleteVendorGrant = db.prepare<[number, string], void>('DELETE FROM vendor_grants WHERE account_id = ? AND vendor = ?')
  const grantsOf = db.prepare<[number], RuleColumns & { name: string, created_at: string }>(
    `SELECT p.name, g.created_at, g.version_constraint, g.updates_until, g.minimum_stability
     FROM grants g JOIN packages p ON p.id = g.package_id WHERE g.account_id = ? ORDER BY p.name`)
  const vendorGrantsOf = db.prepare<[number], RuleColumns & { vendor: string, created_at: string }>(
    `SELECT vendor, created_at, ${RULE} FROM vendor_grants WHERE account_id = ? ORDER BY vendor`)
  const packagesOfVendor = db.prepare<[string], PackageRow>(`SELECT ${PKG} FROM packages p WHERE ${VENDOR_OF_P} = ?`)
  const touchMetadata = db.prepare<[number, number], void>('UPDATE packages SET metadata_updated_at = ? WHERE id = ?')
  const setYanked = db.prepare<[string | null, number], void>('UPDATE versions SET yanked_at = ? WHERE id = ?')
  const setAbandoned = db.prepare<[string | null, number], void>('UPDATE packages SET abandoned = ? WHERE id = ?')
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
    /** Called inside the publish (or yank, abandon) transaction: documents and timestamp change together. */
    saveMetadata (id: number, stable: string | null, dev: string | null, updatedAt: number): void {
      setDocuments.run(id, stable, dev)
      setUpdatedAt.run(updatedAt, id)
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
    /** One more install of the version by the account (account_downloads, migrations/008). */
    countAccountDownload (accountId: number, versionId: number): void {
      countAccountDownload.run(accountId, versionId)
    },
    isVisible (pkg: Package, accountId: number): boolean {
      return visibleById.get({ account: accountId, package: pkg.id })!.n > 0
    },
    /** Every package this account may see and how (public, exact grant or vendor grant, with its rule). */
    entitlements (accountId: number): Array<{ name: string, entitlement: Entitlement }> {
      return entitlements.all({ account: accountId }).map((r) => ({ name: r.name, entitlement: entitlement(r) }))
    },
    grant (accountId: number, packageId: number, rule: GrantRule): void {
      insertGrant.run(accountId, packageId, new Date().toISOString(), rule.constraint, rule.updatesUntil, rule.minimumStability)
    },
    grantVendor (accountId: number, vendor: string, rule: GrantRule): void {
      insertVendorGrant.run(accountId, vendor, new Date().toISOString(), rule.constraint, rule.updatesUntil, rule.minimumStability)
    },
    revokeVendor (accountId: number, vendor: string): void {
      deleteVendorGrant.run(accountId, vendor)
    },
    grantsOf (accountId: number): Array<{ name: string, rule: GrantRule, createdAt: string }> {
      return grantsOf.all(accountId).map((r) => ({ name: r.name, rule: toRule(r), createdAt: r.created_at }))
    },
    vendorGrantsOf (accountId: number): Array<{ vendor: string, rule: GrantRule, createdAt: string }> {
      return vendorGrantsOf.all(accountId).map((r) => ({ vendor: r.vendor, rule: toRule(r), createdAt: r.created_at }))
    },
    packagesOfVendor (vendor: string): Package[] {
      return packagesOfVendor.all(vendor).map(toPackage)
    },
    touchMetadata (id: number, updatedAt: number): void {
      touchMetadata.run(updatedAt, id)
    },
    setYanked (versionId: number, yankedAt: string | null): void {
      setYanked.run(yankedAt, versionId)
    },
    /** false: maintained; true: abandoned; a name: abandoned for that replacement. */
    setAbandoned (packageId: number, abandoned: Abandoned): void {
      setAbandoned.run(abandoned === false ? null : abandoned === true ? '' : abandoned, packageId)
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
