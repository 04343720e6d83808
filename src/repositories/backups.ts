import Database from 'better-sqlite3'
import type { Db } from '../db/database.js'

/** What a database snapshot holds, read from the snapshot itself. */
export interface SnapshotInfo {
  /** PRAGMA integrity_check of the copy: 'ok' when sound. */
  integrity: string
  /** Schema version (PRAGMA user_version) of the copy. */
  schemaVersion: number
  packages: number
  versions: number
  /** sha256 of every archive the copy's rows point at. */
  referencedArchives: string[]
}

/** sqlite3_backup_step with this many pages copies everything in one step: one read snapshot, no restarts. */
const ALL_PAGES = 0x7fffffff

/**
 * Reads a database snapshot for the backup: its integrity and the archives its rows point
 * at (package versions, and release files once the downloads API's table exists).
 */
export function createBackupQueries (db: Db) {
  const hasReleases = db.prepare('SELECT 1 FROM sqlite_master WHERE type = \'table\' AND name = \'releases\'').get() !== undefined
  // Mirrored upstream archives (migrations/012) are referenced once downloaded, so a restore serves them without upstream.
  const hasMirror = db.prepare('SELECT 1 FROM sqlite_master WHERE type = \'table\' AND name = \'mirrored_versions\'').get() !== undefined
  const mirrored = hasMirror ? ' UNION SELECT sha256 FROM mirrored_versions WHERE sha256 IS NOT NULL' : ''
  const referenced = db.prepare(hasReleases
    ? `SELECT sha256 FROM versions UNION SELECT sha256 FROM releases${mirrored} ORDER BY 1`
    : `SELECT DISTINCT sha256 FROM versions${mirrored} ORDER BY 1`).pluck()
  const counts = db.prepare('SELECT (SELECT count(*) FROM packages) AS packages, (SELECT count(*) FROM versions) AS versions')
  return {
    referencedArchives: (): string[] => referenced.all() as string[],
    counts: () => counts.get() as { packages: number, versions: number },
    integrityCheck: (): string => String(db.pragma('integrity_check', { simple: true })),
    schemaVersion: (): number => db.pragma('user_version', { simple: true }) as number
  }
}

/** The SQLite side of a backup: an online copy of the live database, and what that copy holds. */
export function createBackupsRepository (db: Db) {
  return {
    /**
     * Copies the database as of one instant into `file` (SQLite's online backup API: WAL
     * readers never block writers, so the server keeps serving) and describes the copy.
     */
    async snapshot (file: string): Promise<SnapshotInfo> {
      await db.backup(file, { progress: () => ALL_PAGES })
      const copy = new Database(file)
      try {
        // A self-contained file: no -wal/-shm beside it. The server turns WAL on again when it opens it.
        copy.pragma('journal_mode = DELETE')
        const q = createBackupQueries(copy)
        const integrity = q.integrityCheck()
        if (integrity !== 'ok') return { integrity, schemaVersion: 0, packages: 0, versions: 0, referencedArchives: [] }
        return { integrity, schemaVersion: q.schemaVersion(), ...q.counts(), referencedArchives: q.referencedArchives() }
      } finally {
        copy.close()
      }
    }
  }
}

export type BackupsRepository = ReturnType<typeof createBackupsRepository>
