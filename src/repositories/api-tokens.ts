import type { Db } from '../db/database.js'
import type { ApiScope, ApiToken } from '../domain/api-tokens.js'
import { errors } from '../errors.js'

interface TokenRow {
  id: number
  name: string
  scope: string
  packages: string
  created_at: string
  last_used_at: string | null
}

const COLUMNS = 'id, name, scope, packages, created_at, last_used_at'
const toToken = (r: TokenRow): ApiToken => ({
  id: r.id,
  name: r.name,
  scope: r.scope as ApiScope,
  packages: JSON.parse(r.packages) as string[],
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at
})

/** Operator API tokens, stored as a SHA-256 only. */
export function createApiTokensRepository (db: Db) {
  const insert = db.prepare<[string, string, string, Buffer, string], void>(
    'INSERT INTO api_tokens (name, scope, packages, token_hash, created_at) VALUES (?, ?, ?, ?, ?)')
  const byName = db.prepare<[string], TokenRow>(`SELECT ${COLUMNS} FROM api_tokens WHERE name = ?`)
  const byHash = db.prepare<[Buffer], TokenRow & { token_hash: Buffer }>(`SELECT ${COLUMNS}, token_hash FROM api_tokens WHERE token_hash = ?`)
  const all = db.prepare<[], TokenRow>(`SELECT ${COLUMNS} FROM api_tokens ORDER BY name`)
  const remove = db.prepare<[number], void>('DELETE FROM api_tokens WHERE id = ?')
  // Only ever moves forward, so a slower process cannot write an older time over a newer one.
  const touch = db.prepare<[string, number, string], void>(
    'UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)')

  return {
    insert (name: string, scope: ApiScope, packages: string[], tokenHash: Buffer): ApiToken {
      try {
        insert.run(name, scope, JSON.stringify(packages), tokenHash, new Date().toISOString())
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' && (err as Error).message.includes('api_tokens.name')) {
          throw errors.conflict(`an API token named "${name}" already exists; revoke it first or choose another name`)
        }
        throw err
      }
      return toToken(byName.get(name)!)
    },
    findByName (name: string): ApiToken | undefined {
      const r = byName.get(name)
      return r === undefined ? undefined : toToken(r)
    },
    /** The token whose hash this is, with the stored hash for a constant-time confirmation. */
    findByHash (tokenHash: Buffer): { token: ApiToken, tokenHash: Buffer } | undefined {
      const r = byHash.get(tokenHash)
      return r === undefined ? undefined : { token: toToken(r), tokenHash: r.token_hash }
    },
    list (): ApiToken[] {
      return all.all().map(toToken)
    },
    delete (id: number): void {
      remove.run(id)
    },
    touch (id: number, at: string): void {
      touch.run(at, id, at)
    }
  }
}

export type ApiTokensRepository = ReturnType<typeof createApiTokensRepository>
