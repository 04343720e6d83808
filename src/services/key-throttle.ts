export interface KeyThrottleOptions {
  /** Failed checks of one public key from one address allowed per window. */
  maxPerKey?: number
  /** Failed checks from one address, whatever the public keys, allowed per window. */
  maxPerAddress?: number
  /** The counting window; also the first block. Each further block doubles, up to maxBlockMs. */
  windowMs?: number
  maxBlockMs?: number
  /** Bounds memory under a flood of distinct keys or addresses. */
  maxEntries?: number
  now?: () => number
}

interface Entry {
  /** Failures in the current window, which started at windowStart. */
  failures: number
  windowStart: number
  blockedUntil: number
  /** Blocks in a row without a quiet period: the next block lasts windowMs * 2^strikes. */
  strikes: number
  lastFailureAt: number
}

/** What the Composer routes do with a request before its secret is checked. */
export type KeyGate =
  | { blocked: false }
  /** key: this public key from this address is blocked; the secret must not be checked. */
  | { blocked: 'key', retryAfterSeconds: number }
  /** address: too many failures from this address; only a correct pair may pass. */
  | { blocked: 'address', retryAfterSeconds: number }

const OPEN: KeyGate = { blocked: false }

/**
 * Throttles guessing of access keys. Failed checks are counted per (public key, client
 * address) and per address. Past `maxPerKey` failures in a window, that key from that address
 * is refused without checking the secret until the block ends; past `maxPerAddress`, every
 * wrong pair from the address is refused. A block lasts one window, then twice as long each
 * time failures reach the limit again; a quiet period as long as the last block forgets it all.
 *
 * The success path costs one emptiness check while nobody is failing, and one Map lookup
 * otherwise. State is in memory, per server process (like the login throttle).
 */
export function createKeyThrottle (options: KeyThrottleOptions = {}) {
  const maxPerKey = options.maxPerKey ?? 10
  const maxPerAddress = options.maxPerAddress ?? 100
  const windowMs = options.windowMs ?? 60_000
  const maxBlockMs = options.maxBlockMs ?? 60 * 60_000
  const maxEntries = options.maxEntries ?? 100_000
  const now = options.now ?? Date.now
  const entries = new Map<string, Entry>()

  const keyOf = (publicKey: string, address: string): string => `k\u0000${publicKey.slice(0, 64)}\u0000${address}`
  const addressOf = (address: string): string => `a\u0000${address}`

  const blockLength = (strikes: number): number => Math.min(windowMs * 2 ** strikes, maxBlockMs)

  /** Forgotten after a quiet period, counted from the last failure or the end of the block, as long as the last block (at least one window). */
  function expired (e: Entry, t: number): boolean {
    return e.blockedUntil <= t && t - Math.max(e.lastFailureAt, e.blockedUntil) > Math.max(windowMs, blockLength(Math.max(e.strikes - 1, 0)))
  }

  function live (id: string, t: number): Entry | undefined {
    const e = entries.get(id)
    if (e === undefined) return undefined
    if (expired(e, t)) {
      entries.delete(id)
      return undefined
    }
    return e
  }

  function prune (t: number): void {
    if (entries.size < maxEntries) return
    for (const [id, e] of entries) if (expired(e, t)) entries.delete(id)
    // Still full: forget the oldest (Map keeps insertion order).
    for (const id of entries.keys()) {
      if (entries.size < maxEntries * 0.9) break
      entries.delete(id)
    }
  }

  function fail (id: string, limit: number, t: number): void {
    let e = live(id, t)
    if (e === undefined) {
      prune(t)
      e = { failures: 0, windowStart: t, blockedUntil: 0, strikes: 0, lastFailureAt: t }
      entries.set(id, e)
    }
    if (t - e.windowStart >= windowMs) {
      e.windowStart = t
      e.failures = 0
    }
    e.failures++
    e.lastFailureAt = t
    if (e.failures >= limit && e.blockedUntil <= t) {
      e.blockedUntil = t + blockLength(e.strikes)
      e.strikes++
      e.failures = 0
      e.windowStart = e.blockedUntil
    }
  }

  const seconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000))

  return {
    /** Whether a check of this key from this address may go ahead. */
    gate (publicKey: string, address: string): KeyGate {
      if (entries.size === 0) return OPEN
      const t = now()
      const k = live(keyOf(publicKey, address), t)
      if (k !== undefined && k.blockedUntil > t) return { blocked: 'key', retryAfterSeconds: seconds(k.blockedUntil - t) }
      const a = live(addressOf(address), t)
      if (a !== undefined && a.blockedUntil > t) return { blocked: 'address', retryAfterSeconds: seconds(a.blockedUntil - t) }
      return OPEN
    },
    /** Records a failed check (wrong secret, unknown or disabled key, malformed pair). */
    failed (publicKey: string, address: string): void {
      const t = now()
      fail(keyOf(publicKey, address), maxPerKey, t)
      fail(addressOf(address), maxPerAddress, t)
    },
    size (): number {
      return entries.size
    }
  }
}

export type KeyThrottle = ReturnType<typeof createKeyThrottle>
