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

const SELECT = `SELECT a.id, p.name AS package_name, a.affected_versions, a.title, a.cve, a.link, a.severity, a.reported_at
  FROM advisories a JOIN packages p ON p.id = a.package_id`

export interface NewAdvisory { affectedVersions: string, title: string, cve: string | null, link: string | null, severity: string | null, reportedAt: string }

/** Security advisories the operator publishes, per package. */
export function createAdvisoriesRepository (db: Db) {
  const insert = db.prepare<[number, string, string, string | null, string | null, string | null, string], void>(
    'INSERT INTO advisories (package_id, affected_versions, title, cve, link, severity, reported_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
  const byId = db.prepare<[number], AdvisoryRow>(`${SELECT} WHERE a.id = ?`)
  const all = db.prepare<[], AdvisoryRow>(`${SELECT} ORDER BY p.name, a.id`)
  // The names arrive as one JSON array: one statement whatever their number.
  const ofPackages = db.prepare<[string], AdvisoryRow>(`${SELECT} WHERE p.name IN (SELECT value FROM json_each(?)) ORDER BY p.name, a.id`)
  const remove = db.prepare<[number], void>('DELETE FROM advisories WHERE id = ?')

  return {
    insert (packageId: number, a: NewAdvisory): Advisory {
      const { lastInsertRowid } = insert.run(packageId, a.affectedVersions, a.title, a.cve, a.link, a.severity, a.reportedAt)
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
