import type { Db } from '../db/database.js'
import type { SessionRecord } from '../domain/accounts.js'

interface SessionRow { account_id: number, created_at: number, expires_at: number, flash: string | null }

/** Web sessions, keyed by the SHA-256 of the cookie value. Times are Unix milliseconds. */
export function createSessionsRepository (db: Db) {
  const insert = db.prepare<[Buffer, number, number, number], void>(
    'INSERT INTO sessions (id_hash, account_id, created_at, expires_at) VALUES (?, ?, ?, ?)')
  const byId = db.prepare<[Buffer], SessionRow>('SELECT account_id, created_at, expires_at, flash FROM sessions WHERE id_hash = ?')
  const extend = db.prepare<[number, Buffer], void>('UPDATE sessions SET expires_at = ? WHERE id_hash = ?')
  const setFlash = db.prepare<[string | null, Buffer], void>('UPDATE sessions SET flash = ? WHERE id_hash = ?')
  const remove = db.prepare<[Buffer], void>('DELETE FROM sessions WHERE id_hash = ?')
  const removeAccount = db.prepare<[number], void>('DELETE FROM sessions WHERE account_id = ?')
  const removeExpired = db.prepare<[number], void>('DELETE FROM sessions WHERE expires_at <= ?')

  return {
    insert (idHash: Buffer, accountId: number, createdAt: number, expiresAt: number): void {
      insert.run(idHash, accountId, createdAt, expiresAt)
    },
    find (idHash: Buffer): SessionRecord | undefined {
      const r = byId.get(idHash)
      return r === undefined ? undefined : { accountId: r.account_id, createdAt: r.created_at, expiresAt: r.expires_at, flash: r.flash }
    },
    extend (idHash: Buffer, expiresAt: number): void {
      extend.run(expiresAt, idHash)
    },
    setFlash (idHash: Buffer, flash: string | null): void {
      setFlash.run(flash, idHash)
    },
    delete (idHash: Buffer): void {
      remove.run(idHash)
    },
    deleteForAccount (accountId: number): number {
      return removeAccount.run(accountId).changes
    },
    deleteExpired (now: number): number {
      return removeExpired.run(now).changes
    }
  }
}

export type SessionsRepository = ReturnType<typeof createSessionsRepository>
