import Database from 'better-sqlite3'
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { errors } from '../errors.js'

export type Db = Database.Database

// src/db and dist/db sit at the same depth, so ../../migrations works from both.
const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url))

export function openDatabase (file: string): Db {
  mkdirSync(path.dirname(file), { recursive: true })
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('foreign_keys = ON')
  db.pragma('busy_timeout = 5000')
  migrate(db)
  return db
}

/**
 * Applies migrations/NNN-*.sql whose number is above PRAGMA user_version, each in a
 * transaction together with the version bump. Running twice is a no-op. A migration with the
 * line `-- packyard: vacuum` is followed by a VACUUM (which cannot run in a transaction), so a
 * table it shrank is rewritten compactly; a VACUUM that cannot run (another connection is
 * reading) is skipped, since it changes no data, and runs after the next migration that asks.
 */
export function migrate (db: Db, dir = MIGRATIONS_DIR): number {
  const files = readdirSync(dir).filter((f) => /^\d{3}-[\w-]+\.sql$/.test(f)).sort()
  const current = db.pragma('user_version', { simple: true }) as number
  const latest = files.length === 0 ? 0 : Number(files[files.length - 1]!.slice(0, 3))
  if (current > latest) {
    throw errors.schemaTooNew(current, latest)
  }
  let vacuum = false
  for (const file of files) {
    const version = Number(file.slice(0, 3))
    if (version <= current) continue
    const sql = readFileSync(path.join(dir, file), 'utf8')
    db.transaction(() => {
      db.exec(sql)
      db.pragma(`user_version = ${version}`)
    }).immediate()
    vacuum ||= /^-- packyard: vacuum$/m.test(sql)
  }
  if (vacuum) {
    try {
      db.exec('VACUUM')
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err
    }
  }
  return db.pragma('user_version', { simple: true }) as number
}
