import type { Db } from '../db/database.js'
import { errors } from '../errors.js'
import type { Account } from '../domain/accounts.js'

interface AccountRow {
  id: number
  username: string
  mage_id: string
  email: string | null
  created_at: string
  disabled_at: string | null
}

const COLUMNS = 'id, username, mage_id, email, created_at, disabled_at'
const toAccount = (r: AccountRow): Account =>
  ({ id: r.id, username: r.username, mageId: r.mage_id, email: r.email, createdAt: r.created_at, disabledAt: r.disabled_at })

export function createAccountsRepository (db: Db) {
  const insert = db.prepare<[string, string, string | null, string | null, string], void>(
    'INSERT INTO accounts (username, mage_id, email, password_hash, created_at) VALUES (?, ?, ?, ?, ?)')
  const byUsername = db.prepare<[string], AccountRow>(`SELECT ${COLUMNS} FROM accounts WHERE username = ?`)
  const byId = db.prepare<[number], AccountRow>(`SELECT ${COLUMNS} FROM accounts WHERE id = ?`)
  const byMageId = db.prepare<[string], AccountRow>(`SELECT ${COLUMNS} FROM accounts WHERE mage_id = ?`)
  const all = db.prepare<[], AccountRow>(`SELECT ${COLUMNS} FROM accounts ORDER BY username`)
  const passwordHash = db.prepare<[number], { password_hash: string | null }>('SELECT password_hash FROM accounts WHERE id = ?')
  const setPassword = db.prepare<[string, number], void>('UPDATE accounts SET password_hash = ? WHERE id = ?')
  const mageIdTaken = db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM accounts WHERE mage_id = ?')
  const setEmail = db.prepare<[string | null, number], void>('UPDATE accounts SET email = ? WHERE id = ?')
  // Only when the state changes, so the trigger moves the credentials counter for a real change only.
  const setDisabled = db.prepare<[{ at: string | null, id: number }], void>(
    'UPDATE accounts SET disabled_at = @at WHERE id = @id AND (disabled_at IS NULL) <> (@at IS NULL)')
  const remove = db.prepare<[number], void>('DELETE FROM accounts WHERE id = ?')
  const downloads = db.prepare<[number], { package: string, version: string, count: number }>(
    `SELECT p.name AS package, v.version, d.count FROM account_downloads d
       JOIN versions v ON v.id = d.version_id JOIN packages p ON p.id = v.package_id
      WHERE d.account_id = ? ORDER BY p.name, v.id`)

  return {
    create (input: { username: string, mageId: string, email: string | null, passwordHash: string | null }): Account {
      try {
        insert.run(input.username, input.mageId, input.email, input.passwordHash, new Date().toISOString())
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw errors.conflict(`account "${input.username}" already exists`)
        }
        throw err
      }
      return toAccount(byUsername.get(input.username)!)
    },
    findByUsername (username: string): Account | undefined {
      const r = byUsername.get(username)
      return r === undefined ? undefined : toAccount(r)
    },
    findById (id: number): Account | undefined {
      const r = byId.get(id)
      return r === undefined ? undefined : toAccount(r)
    },
    findByMageId (mageId: string): Account | undefined {
      const r = byMageId.get(mageId)
      return r === undefined ? undefined : toAccount(r)
    },
    list (): Account[] {
      return all.all().map(toAccount)
    },
    passwordHash (id: number): string | null {
      return passwordHash.get(id)?.password_hash ?? null
    },
    setPasswordHash (id: number, hash: string): void {
      setPassword.run(hash, id)
    },
    isMageIdTaken (mageId: string): boolean {
      return mageIdTaken.get(mageId)!.n > 0
    },
    setEmail (id: number, email: string | null): void {
      setEmail.run(email, id)
    },
    /** Suspends (a time) or restores (null) the account; false when it already was in that state. */
    setDisabledAt (id: number, at: string | null): boolean {
      return setDisabled.run({ at, id }).changes > 0
    },
    /** Installs the account reported through notify-batch, per package and version. */
    downloads (id: number): Array<{ package: string, version: string, count: number }> {
      return downloads.all(id)
    },
    /** Removes the account; its keys, grants, sessions and tokens go with it (ON DELETE CASCADE). */
    delete (id: number): void {
      remove.run(id)
    }
  }
}

export type AccountsRepository = ReturnType<typeof createAccountsRepository>
