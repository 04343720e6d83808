import type { Db } from '../db/database.js'
import type { Access } from '../domain/catalog.js'
import type { Edition, EditionGrant, NewRelease, Release } from '../domain/releases.js'
import { errors } from '../errors.js'

interface ReleaseRow {
  id: number
  file_name: string
  version: string
  edition: string | null
  edition_access: Access | null
  size: number
  sha1: string
  sha256: string
  md5: string
  created_at: string
}

const toRelease = (r: ReleaseRow): Release => ({
  id: r.id,
  fileName: r.file_name,
  version: r.version,
  edition: r.edition,
  editionAccess: r.edition_access,
  size: r.size,
  sha1: r.sha1,
  sha256: r.sha256,
  md5: r.md5,
  createdAt: r.created_at
})

const SELECT = `SELECT r.id, r.file_name, r.version, e.name AS edition, e.access AS edition_access, r.size, r.sha1, r.sha256, r.md5, r.created_at
  FROM releases r LEFT JOIN editions e ON e.id = r.edition_id`
/**
 * The visibility rule for release files, in one place: no edition, a public edition, or
 * an edition the account holds a grant for.
 */
const VISIBLE = `(r.edition_id IS NULL OR e.access = 'public'
  OR EXISTS (SELECT 1 FROM edition_grants g WHERE g.edition_id = r.edition_id AND g.account_id = @accountId))`

/** Release files (full downloads outside Composer), their editions and edition grants. */
export function createReleasesRepository (db: Db) {
  const editionByName = db.prepare<[string], Edition>('SELECT id, name, access FROM editions WHERE name = ?')
  const insertEdition = db.prepare<[string, Access, string], void>('INSERT INTO editions (name, access, created_at) VALUES (?, ?, ?)')
  const setEditionAccess = db.prepare<[Access, number], void>('UPDATE editions SET access = ? WHERE id = ?')
  const allEditions = db.prepare<[], Edition & { files: number }>(
    'SELECT e.id, e.name, e.access, (SELECT count(*) FROM releases r WHERE r.edition_id = e.id) AS files FROM editions e ORDER BY e.name')
  const insertGrant = db.prepare<[number, number, string], void>(
    'INSERT OR IGNORE INTO edition_grants (account_id, edition_id, created_at) VALUES (?, ?, ?)')
  const deleteGrant = db.prepare<[number, number], void>('DELETE FROM edition_grants WHERE account_id = ? AND edition_id = ?')
  const grantsOf = db.prepare<[number], { edition: string, created_at: string }>(
    'SELECT e.name AS edition, g.created_at FROM edition_grants g JOIN editions e ON e.id = g.edition_id WHERE g.account_id = ? ORDER BY e.name')
  const byFileName = db.prepare<[string], ReleaseRow>(`${SELECT} WHERE r.file_name = ?`)
  const visibleByFileName = db.prepare<{ accountId: number, fileName: string }, ReleaseRow>(
    `${SELECT} WHERE r.file_name = @fileName AND ${VISIBLE}`)
  const visible = db.prepare<{ accountId: number }, ReleaseRow>(`${SELECT} WHERE ${VISIBLE} ORDER BY r.file_name`)
  const all = db.prepare<[], ReleaseRow>(`${SELECT} ORDER BY r.file_name`)
  const insertRelease = db.prepare<[string, string, number | null, number, string, string, string, string], void>(
    'INSERT INTO releases (file_name, version, edition_id, size, sha1, sha256, md5, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')

  return {
    findEdition (name: string): Edition | undefined {
      return editionByName.get(name)
    },
    insertEdition (name: string, access: Access): Edition {
      insertEdition.run(name, access, new Date().toISOString())
      return editionByName.get(name)!
    },
    setEditionAccess (id: number, access: Access): void {
      setEditionAccess.run(access, id)
    },
    listEditions (): Array<Edition & { files: number }> {
      return allEditions.all()
    },
    grant (accountId: number, editionId: number): void {
      insertGrant.run(accountId, editionId, new Date().toISOString())
    },
    revoke (accountId: number, editionId: number): void {
      deleteGrant.run(accountId, editionId)
    },
    /** The editions an account holds a grant for, by name. */
    grantsOf (accountId: number): EditionGrant[] {
      return grantsOf.all(accountId).map((r) => ({ edition: r.edition, createdAt: r.created_at }))
    },
    findByFileName (fileName: string): Release | undefined {
      const r = byFileName.get(fileName)
      return r === undefined ? undefined : toRelease(r)
    },
    /** The file when it exists and the account may download it; one lookup, never a path. */
    findVisible (accountId: number, fileName: string): Release | undefined {
      const r = visibleByFileName.get({ accountId, fileName })
      return r === undefined ? undefined : toRelease(r)
    },
    listVisible (accountId: number): Release[] {
      return visible.all({ accountId }).map(toRelease)
    },
    list (): Release[] {
      return all.all().map(toRelease)
    },
    insert (r: NewRelease): Release {
      try {
        insertRelease.run(r.fileName, r.version, r.editionId, r.size, r.sha1, r.sha256, r.md5, new Date().toISOString())
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw errors.conflict(`a release file named ${r.fileName} already exists`)
        throw err
      }
      return toRelease(byFileName.get(r.fileName)!)
    }
  }
}

export type ReleasesRepository = ReturnType<typeof createReleasesRepository>
