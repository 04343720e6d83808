import type { Db } from '../db/database.js'
import type { AccessKey, KeyCredential } from '../domain/accounts.js'
import { immediate } from './transaction.js'
import { errors } from '../errors.js'

interface KeyRow {
  id: number
  account_id: number
  name: string
  public_key: string
  enabled: number
  created_at: string
  last_used_at: string | null
  revealable: number
}

const COLUMNS = 'id, account_id, name, public_key, enabled, created_at, last_used_at, private_key_sealed IS NOT NULL AS revealable'
const toKey = (r: KeyRow): AccessKey => ({
  id: r.id,
  accountId: r.account_id,
  name: r.name,
  publicKey: r.public_key,
  enabled: r.enabled === 1,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revealable: r.revealable === 1
})

export function createAccessKeysRepository (db: Db) {
  const insert = db.prepare<[number, string, string, Buffer, Buffer | null, string], void>(
    'INSERT INTO access_keys (account_id, name, public_key, private_key_hash, private_key_sealed, enabled, created_at) VALUES (?, ?, ?, ?, ?, 1, ?)')
  const byPublicKey = db.prepare<[string], KeyRow>(`SELECT ${COLUMNS} FROM access_keys WHERE public_key = ?`)
  const credential = db.prepare<[string], { id: number, account_id: number, private_key_hash: Buffer, enabled: number, account_disabled: number }>(
    `SELECT k.id, k.account_id, k.private_key_hash, k.enabled, a.disabled_at IS NOT NULL AS account_disabled
       FROM access_keys k JOIN accounts a ON a.id = k.account_id WHERE k.public_key = ?`)
  const byAccount = db.prepare<[number], KeyRow>(`SELECT ${COLUMNS} FROM access_keys WHERE account_id = ? ORDER BY created_at, id`)
  const rename = db.prepare<[string, number], void>('UPDATE access_keys SET name = ? WHERE id = ?')
  const replaceSecret = db.prepare<[string, Buffer, Buffer | null, number], void>(
    'UPDATE access_keys SET public_key = ?, private_key_hash = ?, private_key_sealed = ?, last_used_at = NULL WHERE id = ?')
  const sealed = db.prepare<[number], { private_key_sealed: Buffer | null }>('SELECT private_key_sealed FROM access_keys WHERE id = ?')
  const clearSealed = db.prepare<[], void>('UPDATE access_keys SET private_key_sealed = NULL WHERE private_key_sealed IS NOT NULL')
  const setEnabled = db.prepare<[number, number], void>('UPDATE access_keys SET enabled = ? WHERE id = ?')
  const remove = db.prepare<[number], void>('DELETE FROM access_keys WHERE id = ?')
  // Only ever moves forward, so a late flush cannot overwrite a newer time.
  // Matching the public key too: a pair regenerated meanwhile (by any process) was not the one used.
  const touch = db.prepare<[string, number, string, string], void>(
    'UPDATE access_keys SET last_used_at = ? WHERE id = ? AND public_key = ? AND (last_used_at IS NULL OR last_used_at < ?)')

  return {
    insert (accountId: number, name: string, publicKey: string, privateKeyHash: Buffer, privateKeySealed: Buffer | null = null): AccessKey {
      try {
        insert.run(accountId, name, publicKey, privateKeyHash, privateKeySealed, new Date().toISOString())
      } catch (err) {
        // An imported pair whose public key another process added meanwhile.
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw errors.conflict(`access key "${publicKey}" already exists`)
        throw err
      }
      return toKey(byPublicKey.get(publicKey)!)
    },
    findByPublicKey (publicKey: string): AccessKey | undefined {
      const r = byPublicKey.get(publicKey)
      return r === undefined ? undefined : toKey(r)
    },
    credential (publicKey: string): KeyCredential | undefined {
      const r = credential.get(publicKey)
      return r === undefined ? undefined : { id: r.id, accountId: r.account_id, privateKeyHash: r.private_key_hash, enabled: r.enabled === 1, accountDisabled: r.account_disabled === 1 }
    },
    listByAccount (accountId: number): AccessKey[] {
      return byAccount.all(accountId).map(toKey)
    },
    rename (id: number, name: string): void {
      rename.run(name, id)
    },
    replaceSecret (id: number, publicKey: string, privateKeyHash: Buffer, privateKeySealed: Buffer | null = null): void {
      replaceSecret.run(publicKey, privateKeyHash, privateKeySealed, id)
    },
    sealedPrivateKey (id: number): Buffer | null {
      return sealed.get(id)?.private_key_sealed ?? null
    },
    /** Drops every encrypted copy (key reveal turned off); returns how many there were. */
    clearSealed (): number {
      return clearSealed.run().changes
    },
    setEnabled (id: number, enabled: boolean): void {
      setEnabled.run(enabled ? 1 : 0, id)
    },
    delete (id: number): void {
      remove.run(id)
    },
    touchMany: immediate(db, (entries: Array<{ id: number, publicKey: string, at: string }>) => {
      for (const { id, publicKey, at } of entries) touch.run(at, id, publicKey, at)
    })
  }
}

export type AccessKeysRepository = ReturnType<typeof createAccessKeysRepository>
