import { randomBytes } from 'node:crypto'
import type { ApiTokensRepository } from '../repositories/api-tokens.js'
import { API_SCOPES, type ApiScope, type ApiToken } from '../domain/api-tokens.js'
import { isValidPackageName } from '../composer/composer-json.js'
import { errors } from '../errors.js'
import { hashSecret, secretMatches } from './secrets.js'

export interface IssuedApiToken {
  token: ApiToken
  /** Shown once; only its hash is stored. */
  secret: string
}

export type ApiTokenAuthResult =
  | { ok: true, token: ApiToken }
  | { ok: false, reason: 'malformed' | 'unknown' }

/** `pyk_` and 160 bits from the CSPRNG: the prefix makes a leaked token easy to recognise (secret scanners). */
export const API_TOKEN_PATTERN = /^pyk_[0-9a-f]{40}$/
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const VENDOR_WILDCARD = /^([a-z0-9]([_.-]?[a-z0-9]+)*)\/\*$/
/** last_used_at is written at most this often per token. */
const TOUCH_INTERVAL_MS = 60_000

function generateApiToken (): string {
  return `pyk_${randomBytes(20).toString('hex')}`
}

function checkName (name: string): string {
  if (!NAME_PATTERN.test(name)) throw errors.badRequest(`invalid API token name "${name}": use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`)
  return name
}

function checkPattern (pattern: string): string {
  if (pattern !== pattern.toLowerCase()) throw errors.badRequest(`invalid package pattern "${pattern}": package names are lowercase`)
  if (!isValidPackageName(pattern) && !VENDOR_WILDCARD.test(pattern)) {
    throw errors.badRequest(`invalid package pattern "${pattern}": use vendor/name (acme/widget) or vendor/* (acme/*)`)
  }
  return pattern
}

/** The one rule for which packages a token may publish: an empty list means any package. */
export function packageMatches (patterns: readonly string[], name: string): boolean {
  if (patterns.length === 0) return true
  return patterns.some((p) => p.endsWith('/*') ? name.startsWith(p.slice(0, -1)) : p === name)
}

/**
 * Operator API tokens: created and revoked with the CLI, presented by automation (CI,
 * `composer push`). Every check reads the database, so a revocation takes effect at once.
 */
export function createApiTokenService (deps: { tokens: ApiTokensRepository }) {
  const { tokens } = deps

  return {
    create (name: string, scope: string, packages: string[] = []): IssuedApiToken {
      if (!API_SCOPES.includes(scope as ApiScope)) throw errors.badRequest(`invalid scope "${scope}": use ${API_SCOPES.join(' or ')}`)
      // An admin token may do everything: a pattern list on it would read as a limit it is not.
      if (scope === 'admin' && packages.length > 0) throw errors.badRequest('--package limits publish tokens; an admin token may publish any package')
      const patterns = [...new Set(packages.map(checkPattern))]
      const secret = generateApiToken()
      return { token: tokens.insert(checkName(name), scope as ApiScope, patterns, hashSecret(secret)), secret }
    },
    list: (): ApiToken[] => tokens.list(),
    revoke (name: string): ApiToken {
      const token = tokens.findByName(name)
      if (token === undefined) throw errors.notFound(`API token "${name}"`)
      tokens.delete(token.id)
      return token
    },
    /** One indexed lookup by hash; last_used_at is written at most once a minute per token. */
    authenticate (secret: string): ApiTokenAuthResult {
      if (!API_TOKEN_PATTERN.test(secret)) return { ok: false, reason: 'malformed' }
      const found = tokens.findByHash(hashSecret(secret))
      if (found === undefined || !secretMatches(secret, found.tokenHash)) return { ok: false, reason: 'unknown' }
      const { token } = found
      const now = Date.now()
      if (token.lastUsedAt === null || now - Date.parse(token.lastUsedAt) >= TOUCH_INTERVAL_MS) {
        const at = new Date(now).toISOString()
        tokens.touch(token.id, at)
        return { ok: true, token: { ...token, lastUsedAt: at } }
      }
      return { ok: true, token }
    },
    /** Whether the token's scope covers `needed` (admin covers everything). */
    hasScope: (token: ApiToken, needed: ApiScope): boolean => token.scope === 'admin' || token.scope === needed,
    /** Throws 403 unless the token may publish this package. */
    checkPublish (token: ApiToken, packageName: string): void {
      if (token.scope !== 'admin' && token.scope !== 'publish') throw errors.forbidden(`API token "${token.name}" may not publish`)
      if (!packageMatches(token.packages, packageName)) {
        throw errors.forbidden(`API token "${token.name}" may publish only ${token.packages.join(', ')}; not ${packageName}`)
      }
    }
  }
}

export type ApiTokenService = ReturnType<typeof createApiTokenService>
