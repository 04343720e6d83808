import type { Db } from '../db/database.js'

/** Downloads Access Tokens: one per account, stored as a SHA-256 only. */
export function createDownloadTokensRepository (db: Db) {
  const upsert = db.prepare<[number, Buffer, string], void>(
    `INSERT INTO download_tokens (account_id, token_hash, created_at) VALUES (?, ?, ?)
     ON CONFLICT (account_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at`)
  const byAccount = db.prepare<[number], { token_hash: Buffer, created_at: string }>(
    'SELECT token_hash, created_at FROM download_tokens WHERE account_id = ?')

  return {
    /** Replaces the account's token: the previous one stops working with this write. */
    replace (accountId: number, tokenHash: Buffer): string {
      const createdAt = new Date().toISOString()
      upsert.run(accountId, tokenHash, createdAt)
      return createdAt
    },
    find (accountId: number): { tokenHash: Buffer, createdAt: string } | undefined {
      const r = byAccount.get(accountId)
      return r === undefined ? undefined : { tokenHash: r.token_hash, createdAt: r.created_at }
    }
  }
}

export type DownloadTokensRepository = ReturnType<typeof createDownloadTokensRepository>
