import { isPackyardError } from '../errors.js'
import type { Account } from '../domain/accounts.js'
import type { AccountService } from './accounts.js'

export interface LoginThrottleOptions {
  /** Failures allowed (per username and address) before the next attempt must wait. */
  maxFailures?: number
  /** Failures allowed from one address across all usernames (password spraying). */
  maxFailuresPerAddress?: number
  /** A quiet period this long forgets earlier failures. */
  windowMs?: number
  /** The first wait; each further failure doubles it, up to maxDelayMs. */
  baseDelayMs?: number
  maxDelayMs?: number
  /** Bounds memory under a flood of distinct usernames or addresses. */
  maxEntries?: number
  now?: () => number
}

/** What attempt() found: throttled (the password was not checked), or what verify returned. */
export type AttemptOutcome<T> = { throttled: true, retryAfterSeconds: number } | { throttled: false, value: T | undefined }

/** The Retry-After when only attempts still being checked stand in the way. */
const IN_FLIGHT_WAIT_MS = 1000

/** `pending`: attempts reserved and still being verified; each may turn into a failure. */
interface Entry { failures: number, pending: number, lastFailureAt: number, blockedUntil: number }

/**
 * Slows down password guessing. Failures are counted per (username, client address) and
 * per address; past the limit, each attempt waits 30 s, then 60 s, 120 s … at most 5
 * minutes. The owner logging in from another address is never affected, and a
 * successful login clears that username's count. State is in memory, per server process.
 *
 * An attempt is reserved before its password is verified (scrypt is asynchronous), so
 * guesses sent in parallel cannot all pass before the first failure is counted.
 */
export function createLoginThrottle (options: LoginThrottleOptions = {}) {
  const maxFailures = options.maxFailures ?? 5
  const maxPerAddress = options.maxFailuresPerAddress ?? 30
  const windowMs = options.windowMs ?? 15 * 60 * 1000
  const baseDelayMs = options.baseDelayMs ?? 30_000
  const maxDelayMs = options.maxDelayMs ?? 5 * 60 * 1000
  const maxEntries = options.maxEntries ?? 50_000
  const now = options.now ?? Date.now
  const entries = new Map<string, Entry>()

  // Capped: a username is whatever a client sends, and every key is kept in memory.
  const userKey = (username: string, address: string): string => `u:${username.toLowerCase().slice(0, 128)}\u0000${address}`
  const addressKey = (address: string): string => `a:${address}`

  function prune (t: number): void {
    if (entries.size < maxEntries) return
    for (const [key, e] of entries) {
      if (e.pending === 0 && e.blockedUntil <= t && t - e.lastFailureAt > windowMs) entries.delete(key)
    }
    // Still full: forget the oldest entries (Map keeps insertion order).
    for (const [key, e] of entries) {
      if (entries.size < maxEntries * 0.9) break
      if (e.pending === 0) entries.delete(key)
    }
  }

  const delayAfter = (failures: number, limit: number): number => Math.min(baseDelayMs * 2 ** (failures - limit), maxDelayMs)

  /** The live entry for a key, its failures forgotten after a quiet window. */
  function entryOf (key: string, t: number): Entry {
    let e = entries.get(key)
    if (e === undefined) {
      e = { failures: 0, pending: 0, lastFailureAt: t, blockedUntil: 0 }
      entries.set(key, e)
    } else if (e.failures > 0 && t - e.lastFailureAt > windowMs && e.blockedUntil <= t) {
      e.failures = 0
      e.blockedUntil = 0
    }
    return e
  }

  /** Milliseconds to wait before one more attempt may be reserved on this key (0: now). */
  function waitOf (key: string, limit: number, t: number): number {
    const e = entries.get(key)
    if (e === undefined) return 0
    if (e.blockedUntil > t) return e.blockedUntil - t
    const fresh = t - e.lastFailureAt > windowMs ? 0 : e.failures
    // Below the limit, the attempts left may run at once; past it, one at a time after each wait.
    // Those in flight end within moments: a retry then meets the real wait, if they failed.
    const inFlightAllowed = Math.max(limit - fresh, 1)
    return e.pending < inFlightAllowed ? 0 : IN_FLIGHT_WAIT_MS
  }

  function recordFailure (e: Entry, limit: number, t: number): void {
    e.failures++
    e.lastFailureAt = t
    if (e.failures >= limit) e.blockedUntil = t + delayAfter(e.failures, limit)
  }

  function release (key: string): void {
    const e = entries.get(key)
    if (e === undefined) return
    e.pending = Math.max(0, e.pending - 1)
    if (e.pending === 0 && e.failures === 0) entries.delete(key)
  }

  return {
    /**
     * Runs `verify` (a password check: a value when right, undefined when wrong) unless
     * the username or the address is throttled. The attempt is reserved before `verify`
     * starts and counted as a failure or a success when it ends.
     */
    async attempt<T> (username: string, address: string, verify: () => Promise<T | undefined>): Promise<AttemptOutcome<T>> {
      const t = now()
      const uKey = userKey(username, address)
      const aKey = addressKey(address)
      const wait = Math.max(waitOf(uKey, maxFailures, t), waitOf(aKey, maxPerAddress, t))
      if (wait > 0) return { throttled: true, retryAfterSeconds: Math.ceil(wait / 1000) }
      prune(t)
      const user = entryOf(uKey, t)
      const addr = entryOf(aKey, t)
      user.pending++
      addr.pending++
      let value: T | undefined
      try {
        value = await verify()
      } finally {
        const done = now()
        if (value === undefined) {
          // A throwing check counts as a failure too: it must not become a free retry.
          recordFailure(entryOf(uKey, done), maxFailures, done)
          recordFailure(entryOf(aKey, done), maxPerAddress, done)
        } else {
          // The right password clears the username's count (not the address's: that would let one account reset a spray).
          const u = entryOf(uKey, done)
          u.failures = 0
          u.blockedUntil = 0
        }
        release(uKey)
        release(aKey)
      }
      return { throttled: false, value }
    },
    size (): number {
      return entries.size
    }
  }
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>

/**
 * The username to put in a log line about a login attempt: the account's name when such an
 * account exists, else a marker. What was typed as a username is sometimes a password.
 */
export function loggableUsername (accounts: Pick<AccountService, 'get'>, username: string): string {
  try {
    return accounts.get(username).username
  } catch (err) {
    if (isPackyardError(err) && err.statusCode === 404) return 'unknown-user'
    throw err
  }
}

/** The outcome of a throttled password check, for every form and API that asks for one. */
export type PasswordCheck =
  | { ok: true, account: Account }
  | { ok: false, reason: 'throttled', retryAfterSeconds: number, message: string }
  | { ok: false, reason: 'wrong_password' }

export interface PasswordCheckDeps {
  accounts: Pick<AccountService, 'get' | 'checkPassword'>
  throttle: LoginThrottle
}

export interface PasswordAttempt {
  username: string
  password: string
  /** The client address the throttle counts per. */
  address: string
  log: { info: (obj: Record<string, unknown>, msg: string) => void }
  /** Names the log lines: `${action} throttled`, `${action} failed`. */
  action: string
  logFields?: Record<string, unknown>
}

/**
 * The one throttled password check: login page, re-entering the password (view a key,
 * change the password) and the JSON API's Basic auth all go through here, so they share
 * one failure count and one way of logging (never what was typed as a username).
 */
export async function checkPasswordThrottled (deps: PasswordCheckDeps, attempt: PasswordAttempt): Promise<PasswordCheck> {
  const { accounts, throttle } = deps
  const { username, password } = attempt
  const outcome = await throttle.attempt(username, attempt.address, async () => await accounts.checkPassword(username, password))
  const fields = () => ({ account: loggableUsername(accounts, username), ip: attempt.address, ...attempt.logFields })
  if (outcome.throttled) {
    attempt.log.info(fields(), `${attempt.action} throttled`)
    const wait = outcome.retryAfterSeconds
    return { ok: false, reason: 'throttled', retryAfterSeconds: wait, message: `Too many failed attempts. Wait ${wait} seconds and try again.` }
  }
  if (outcome.value !== undefined) return { ok: true, account: outcome.value }
  attempt.log.info(fields(), `${attempt.action} failed`)
  return { ok: false, reason: 'wrong_password' }
}
