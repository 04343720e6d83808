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

export type ThrottleVerdict = { allowed: true } | { allowed: false, retryAfterSeconds: number }

interface Entry { failures: number, lastFailureAt: number, blockedUntil: number }

/**
 * Slows down password guessing. Failures are counted per (username, client address) and
 * per address; past the limit, each attempt waits 30 s, then 60 s, 120 s … at most 5
 * minutes. The owner logging in from another address is never affected, and a
 * successful login clears that username's count. State is in memory, per server process.
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
      if (e.blockedUntil <= t && t - e.lastFailureAt > windowMs) entries.delete(key)
    }
    // Still full: forget the oldest entries (Map keeps insertion order).
    for (const key of entries.keys()) {
      if (entries.size < maxEntries * 0.9) break
      entries.delete(key)
    }
  }

  function waitOf (key: string, t: number): number {
    const e = entries.get(key)
    return e === undefined ? 0 : Math.max(0, e.blockedUntil - t)
  }

  function recordFailure (key: string, limit: number, t: number): void {
    let e = entries.get(key)
    if (e === undefined || t - e.lastFailureAt > windowMs) {
      entries.delete(key)
      e = { failures: 0, lastFailureAt: t, blockedUntil: 0 }
      entries.set(key, e)
    }
    e.failures++
    e.lastFailureAt = t
    if (e.failures >= limit) {
      e.blockedUntil = t + Math.min(baseDelayMs * 2 ** (e.failures - limit), maxDelayMs)
    }
  }

  return {
    /** Whether an attempt may be checked now; call before verifying the password. */
    check (username: string, address: string): ThrottleVerdict {
      const t = now()
      const wait = Math.max(waitOf(userKey(username, address), t), waitOf(addressKey(address), t))
      return wait === 0 ? { allowed: true } : { allowed: false, retryAfterSeconds: Math.ceil(wait / 1000) }
    },
    failure (username: string, address: string): void {
      const t = now()
      prune(t)
      recordFailure(userKey(username, address), maxFailures, t)
      recordFailure(addressKey(address), maxPerAddress, t)
    },
    /** The right password clears the username's count (not the address's: that would let one account reset a spray). */
    success (username: string, address: string): void {
      entries.delete(userKey(username, address))
    },
    size (): number {
      return entries.size
    }
  }
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>
