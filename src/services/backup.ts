import { constants } from 'node:fs'
import { copyFile, mkdir, open, realpath, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import type { ArchiveStore } from '../repositories/archive-store.js'
import type { BackupsRepository } from '../repositories/backups.js'
import { errors } from '../errors.js'

export const BACKUP_DB_FILE = 'packyard.sqlite'

export interface BackupResult {
  dir: string
  database: string
  /** Schema version (PRAGMA user_version) of the copied database. */
  schemaVersion: number
  packages: number
  versions: number
  /** Archive files in the backup; `copied` of them were new in this run. */
  archives: number
  copied: number
  /** Size of the database copy plus every archive in the backup. */
  bytes: number
}

interface BackupDeps { backups: BackupsRepository, store: ArchiveStore, dataDir: string }

async function fsyncPath (file: string): Promise<void> {
  const fh = await open(file, 'r')
  try { await fh.sync() } finally { await fh.close() }
}

async function sizeOf (file: string): Promise<number | undefined> {
  return (await stat(file).catch(() => undefined))?.size
}

/**
 * A consistent copy of a live data directory in `target`, while the server keeps serving:
 * 1. SQLite's online backup API copies the database as of one instant (WAL readers never
 *    block writers, so publishing goes on);
 * 2. the archives are copied after that instant. They are immutable and content-addressed,
 *    and each is on disk before the row naming it commits, so every row in the snapshot
 *    finds its file; archives already in `target` are kept (incremental).
 * 3. Only then does the database copy get its final name: a backup directory with a
 *    packyard.sqlite is complete.
 */
async function backupDataDir (deps: BackupDeps, target: string): Promise<BackupResult> {
  const dir = path.resolve(target)
  await mkdir(dir, { recursive: true })
  if (await realpath(dir) === await realpath(deps.dataDir)) {
    throw errors.badRequest(`backup directory ${dir} is the data directory; choose another directory`)
  }
  const archiveDir = path.join(dir, 'archives')
  await mkdir(archiveDir, { recursive: true })
  const database = path.join(dir, BACKUP_DB_FILE)
  const partial = path.join(dir, `.${BACKUP_DB_FILE}.${process.pid}.partial`)
  await rm(partial, { force: true })
  await rm(`${partial}-journal`, { force: true })

  try {
    const info = await copyInto(deps, partial, archiveDir)
    await fsyncPath(partial)
    await rename(partial, database)
    await fsyncPath(dir)
    return { dir, database, ...info, bytes: info.bytes + (await stat(database)).size }
  } catch (err) {
    await rm(partial, { force: true })
    throw err
  }
}

async function copyInto (deps: BackupDeps, partial: string, archiveDir: string): Promise<Omit<BackupResult, 'dir' | 'database'>> {
  const { integrity, referencedArchives: referenced, ...info } = await deps.backups.snapshot(partial)
  if (integrity !== 'ok') throw errors.conflict(`the database copy failed its integrity check: ${integrity}`)

  let bytes = 0
  let copied = 0
  const inBackup = new Set<string>()
  for (const sha256 of await deps.store.list()) {
    const source = deps.store.finalPath(sha256)
    const dest = path.join(archiveDir, sha256.slice(0, 2), `${sha256}.zip`)
    const size = await sizeOf(source)
    if (size === undefined) continue
    if (await sizeOf(dest) !== size) {
      await mkdir(path.dirname(dest), { recursive: true })
      await copyFile(source, `${dest}.partial`, constants.COPYFILE_FICLONE)
      await fsyncPath(`${dest}.partial`)
      await rename(`${dest}.partial`, dest)
      copied++
    }
    inBackup.add(sha256)
    bytes += size
  }
  const missing = referenced.filter((sha256) => !inBackup.has(sha256))
  if (missing.length > 0) {
    throw errors.conflict(`${missing.length} archive(s) named by the database are missing from ${path.join(deps.dataDir, 'archives')} (first: ${missing[0]}.zip); the data directory itself is damaged`)
  }
  return { ...info, archives: inBackup.size, copied, bytes }
}

/** `packyard backup <dir>`: a consistent copy of this instance's data directory. */
export function createBackupService (deps: BackupDeps) {
  return {
    run: (target: string): Promise<BackupResult> => backupDataDir(deps, target)
  }
}

export type BackupService = ReturnType<typeof createBackupService>
