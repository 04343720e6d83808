import { createHmac, randomBytes } from 'node:crypto'
import type { SessionsRepository } from '../repositories/sessions.js'
import { hashSecret, sameBytes } from './secrets.js'

/** Signed out after this long without a request… */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000
/** …and after this long in any case. */
export const SESSION_MAX_MS = 7 * 24 * 60 * 60 * 1000
// Extending on every request would turn every page view into a write.
const EXTEND_AFTER_MS = 5 * 60 * 1000

const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/

export interface Flash {
  kind: 'success' | 'error'
  text: string
}

export interface Session {
  accountId: number
  /** The raw cookie value: the secret CSRF tokens are derived from. */
  secret: string
  flash: Flash | null
}

/** 32 random bytes, base64url: a session id or an anonymous form secret. */
export function newCookieSecret (): string {
  return randomBytes(32).toString('base64url')
}

export function isCookieSecret (value: string | undefined): value is string {
  return value !== undefined && COOKIE_VALUE.test(value)
}

/**
 * The synchronizer token of a form: an HMAC of the cookie secret, so it is never stored,
 * differs per session, and cannot be computed without the HttpOnly cookie.
 */
export function csrfTokenFor (secret: string): string {
  return createHmac('sha256', secret).update('packyard form token v1').digest('base64url')
}

export function csrfMatches (secret: string, token: unknown): boolean {
  if (typeof token !== 'string') return false
  const expected = Buffer.from(csrfTokenFor(secret))
  const presented = Buffer.from(token)
  return sameBytes(expected, presented)
}

function parseFlash (raw: string | null): Flash | null {
  if (raw === null) return null
  try {
    const f = JSON.parse(raw) as Partial<Flash>
    return (f.kind === 'success' || f.kind === 'error') && typeof f.text === 'string' ? { kind: f.kind, text: f.text } : null
  } catch {
    return null
  }
}

/**
 * Web sessions: a random 32-byte id in an HttpOnly cookie, only its SHA-256 in the
 * database, an idle and an absolute lifetime, and a one-shot flash message.
 */
export function createSessionService (deps: { sessions: SessionsRepository, now?: () => number }) {
  const { sessions } = deps
  const now = deps.now ?? Date.now

  return {
    /** Starts a session for the account and returns the cookie value (shown to no one else). */
    create (accountId: number): string {
      const t = now()
      sessions.deleteExpired(t)
      const secret = newCookieSecret()
      sessions.insert(hashSecret(secret), accountId, t, t + SESSION_IDLE_MS)
      return secret
    },
    resolve (cookie: string | undefined): Session | undefined {
      if (!isCookieSecret(cookie)) return undefined
      const idHash = hashSecret(cookie)
      const record = sessions.find(idHash)
      const t = now()
      if (record === undefined) return undefined
      if (record.expiresAt <= t || record.createdAt + SESSION_MAX_MS <= t) {
        sessions.delete(idHash)
        return undefined
      }
      const expiresAt = Math.min(t + SESSION_IDLE_MS, record.createdAt + SESSION_MAX_MS)
      if (expiresAt - record.expiresAt > EXTEND_AFTER_MS) sessions.extend(idHash, expiresAt)
      return { accountId: record.accountId, secret: cookie, flash: parseFlash(record.flash) }
    },
    setFlash (session: Session, flash: Flash): void {
      sessions.setFlash(hashSecret(session.secret), JSON.stringify(flash))
    },
    /** The pending flash message, cleared so it shows once. */
    takeFlash (session: Session): Flash | null {
      if (session.flash === null) return null
      sessions.setFlash(hashSecret(session.secret), null)
      const flash = session.flash
      session.flash = null
      return flash
    },
    destroy (session: Session): void {
      sessions.delete(hashSecret(session.secret))
    },
    /** Signs an account out everywhere (e.g. after an operator resets its password). */
    destroyAll (accountId: number): number {
      return sessions.deleteForAccount(accountId)
    }
  }
}

export type SessionService = ReturnType<typeof createSessionService>
