import type { Db } from '../db/database.js'

/**
 * Reads a database snapshot for the backup: its integrity and the archives its rows point
 * at (package versions, and release files once the downloads API's table exists).
 */
export function createBackupQueries (db: Db) {
  const hasReleases = db.prepare('SELECT 1 FROM sqlite_master WHERE type = \'table\' AND name = \'releases\'').get() !== undefined
  const referenced = db.prepare(hasReleases
    ? 'SELECT sha256 FROM versions UNION SELECT sha256 FROM releases ORDER BY 1'
    : 'SELECT DISTINCT sha256 FROM versions ORDER BY 1').pluck()
  const counts = db.prepare('SELECT (SELECT count(*) FROM packages) AS packages, (SELECT count(*) FROM versions) AS versions')
  return {
    referencedArchives: (): string[] => referenced.all() as string[],
    counts: () => counts.get() as { packages: number, versions: number },
    integrityCheck: (): string => String(db.pragma('integrity_check', { simple: true })),
    schemaVersion: (): number => db.pragma('user_version', { simple: true }) as number
  }
}
