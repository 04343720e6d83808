import type { Db } from '../db/database.js'
import type { Advisory } from '../domain/catalog.js'

interface AdvisoryRow {
  id: number
  package_name: string
  affected_versions: string
  title: string
  cve: string | null
  link: string | null
  severity: string | null
  reported_at: string
}

export const ADVISORY_PREFIX = 'PACKYARD-'

const toAdvisory = (r: AdvisoryRow): Advisory => ({
  id: r.id,
  advisoryId: `${ADVISORY_PREFIX}${r.id}`,
  packageName: r.package_name,
  affectedVersions: r.affected_versions,
  title: r.title,
  cve: r.cve,
  link: r.link,
  severity: r.severity,
  reportedAt: r.reported_at
})

const SELECT = 'SELECT a.id, a.package_name, a.affected_versions, a.title, a.cve, a.link, a.severity, a.reported_at FROM advisories a'

export interface NewAdvisory { affectedVersions: string, title: string, cve: string | null, link: string | null, severity: string | null, reportedAt: string }

/** Security advisories the operator publishes, per package name (local or mirrored, migrations/015). */
export function createAdvisoriesRepository (db: Db) {
  const insert = db.prepare<[string, number | null, string, string, string | null, string | null, string | null, string], void>(
    'INSERT INTO advisories (package_name, package_id, affected_versions, title, cve, link, severity, reported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
  const byId = db.prepare<[number], AdvisoryRow>(`${SELECT} WHERE a.id = ?`)
  const all = db.prepare<[], AdvisoryRow>(`${SELECT} ORDER BY a.package_name, a.id`)
  // The names arrive as one JSON array: one statement whatever their number.
  const ofPackages = db.prepare<[string], AdvisoryRow>(`${SELECT} WHERE a.package_name IN (SELECT value FROM json_each(?)) ORDER BY a.package_name, a.id`)
  const remove = db.prepare<[number], void>('DELETE FROM advisories WHERE id = ?')

  return {
    /** `packageId`: the local package of this name, or null for a name only an upstream serves. */
    insert (packageName: string, packageId: number | null, a: NewAdvisory): Advisory {
      const { lastInsertRowid } = insert.run(packageName, packageId, a.affectedVersions, a.title, a.cve, a.link, a.severity, a.reportedAt)
      return toAdvisory(byId.get(Number(lastInsertRowid))!)
    },
    find (id: number): Advisory | undefined {
      const r = byId.get(id)
      return r === undefined ? undefined : toAdvisory(r)
    },
    list (): Advisory[] {
      return all.all().map(toAdvisory)
    },
    ofPackages (names: string[]): Advisory[] {
      return ofPackages.all(JSON.stringify(names)).map(toAdvisory)
    },
    remove (id: number): void {
      remove.run(id)
    }
  }
}

export type AdvisoriesRepository = ReturnType<typeof createAdvisoriesRepository>
