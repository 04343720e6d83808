import type { AccessKeysRepository } from '../repositories/access-keys.js'
import type { ChangeCountersRepository } from '../repositories/changes.js'
import type { AccessKey, KeyCredential } from '../domain/accounts.js'
import { errors } from '../errors.js'
import { generateKey, hashSecret, KEY_PATTERN, secretMatches } from './secrets.js'
import type { KeyVault } from './key-vault.js'
import type { AccountsRepository } from '../repositories/accounts.js'
import type { Transactional } from '../repositories/transaction.js'
import type { Emit, WebhookEvent } from './webhooks.js'

export interface IssuedKey {
  key: AccessKey
  /** Shown once; only its hash is stored. */
  privateKey: string
}

export type AuthResult =
  | { ok: true, accountId: number, keyId: number }
  | { ok: false, reason: 'malformed' | 'unknown' | 'wrong_secret' | 'disabled' | 'suspended' }

const NAME_MAX = 100
// A stable dummy hash so an unknown public key costs the same as a wrong private key.
const DUMMY_HASH = hashSecret('packyard-dummy-key-for-constant-time')

function cleanName (name: string): string {
  const trimmed = name.trim()
  if (trimmed.length === 0 || trimmed.length > NAME_MAX || /[\p{Cc}]/u.test(trimmed)) {
    throw errors.badRequest(`invalid key name: use 1-${NAME_MAX} printable characters`)
  }
  return trimmed
}

/** Bounds the credential cache: a flood of distinct public keys cannot grow it without end. */
const CREDENTIAL_CACHE_MAX = 100_000

/**
 * The access key lifecycle and the credential check. Every change is a database write
 * that moves the credentials change counter (a trigger), so it takes effect on the next
 * request, in this process and any other: the check answers from a cache of credentials
 * by public key that is dropped whenever that counter moves.
 */
export function createAccessKeyService (deps: { keys: AccessKeysRepository, usage: UsageTracker, changes: ChangeCountersRepository, vault?: KeyVault | undefined, transaction: Transactional, accounts: Pick<AccountsRepository, 'findById'>, emit: Emit }) {
  const { keys, usage, changes, vault, transaction } = deps

  /** A key event for webhooks, in the transaction of the change: names and public keys only, never a secret. */
  function keyEvent (event: WebhookEvent, key: AccessKey, extra: Record<string, unknown> = {}): void {
    deps.emit(event, { username: deps.accounts.findById(key.accountId)?.username ?? null, name: key.name, publicKey: key.publicKey, ...extra })
  }
  /** Public key → its credential (null: no such key), valid while `cachedAt` is the counter. */
  const credentials = new Map<string, KeyCredential | null>()
  /**
   * `Authorization` header → the pair it carries and the key it opened, for headers that
   * passed the full check while the credentials counter was `cachedAt` (dropped with the
   * credentials). Only accepted headers enter, so failures cannot fill it.
   */
  const accepted = new Map<string, { publicKey: string, accountId: number, keyId: number }>()
  let cachedAt = -1

  function credentialOf (publicKey: string): KeyCredential | undefined {
    fresh()
    let cred = credentials.get(publicKey)
    if (cred === undefined) {
      cred = keys.credential(publicKey) ?? null
      if (credentials.size >= CREDENTIAL_CACHE_MAX) credentials.clear()
      credentials.set(publicKey, cred)
    }
    return cred ?? undefined
  }

  /** Drops both caches when the credentials counter moved (a key or account changed, here or in another process). */
  function fresh (): void {
    const counter = changes.current().credentials
    if (counter !== cachedAt) {
      credentials.clear()
      accepted.clear()
      cachedAt = counter
    }
  }

  function get (publicKey: string): AccessKey {
    const key = KEY_PATTERN.test(publicKey) ? keys.findByPublicKey(publicKey) : undefined
    if (key === undefined) throw errors.notFound(`access key "${publicKey}"`)
    return key
  }

  function freshPublicKey (): string {
    for (;;) {
      const candidate = generateKey()
      if (keys.findByPublicKey(candidate) === undefined) return candidate
    }
  }

  /** With key reveal on, an encrypted copy of the private key; otherwise nothing reversible. */
  const seal = (publicKey: string, privateKey: string): Buffer | null => vault?.seal(publicKey, privateKey) ?? null

  function getOwned (accountId: number, publicKey: string): AccessKey {
    const key = get(publicKey)
    if (key.accountId !== accountId) throw errors.notFound(`access key "${publicKey}"`)
    return key
  }

  return {
    get,
    /** Whether the operator turned key reveal on (an encryption key is configured). */
    revealEnabled: vault !== undefined,
    /** Writes pending last-used times now instead of at the next batch. */
    flushUsage: (): void => { usage.flush() },
    /** The key, checked to belong to the account (for pages and APIs acting as the holder). */
    getOwned,
    create: transaction((accountId: number, name: string): IssuedKey => {
      const privateKey = generateKey()
      const publicKey = freshPublicKey()
      const key = keys.insert(accountId, cleanName(name), publicKey, hashSecret(privateKey), seal(publicKey, privateKey))
      changes.invalidate()
      keyEvent('key.created', key)
      return { key, privateKey }
    }),
    /**
     * Adds an existing pair (e.g. a customer's Magento Marketplace keys) to the account: stored
     * like a generated one, as the SHA-256 of the private key. 409 when the public key exists.
     */
    import: transaction((accountId: number, name: string, publicKey: string, privateKey: string): AccessKey => {
      if (!KEY_PATTERN.test(publicKey) || !KEY_PATTERN.test(privateKey)) {
        throw errors.badRequest('invalid key pair: the public and the private key are each 32 lowercase hexadecimal characters (0-9, a-f)')
      }
      if (keys.findByPublicKey(publicKey) !== undefined) throw errors.conflict(`access key "${publicKey}" already exists`)
      const key = keys.insert(accountId, cleanName(name), publicKey, hashSecret(privateKey), seal(publicKey, privateKey))
      changes.invalidate()
      keyEvent('key.created', key, { imported: true })
      return key
    }),
    list (accountId: number): AccessKey[] {
      return keys.listByAccount(accountId).map((k) => ({ ...k, lastUsedAt: usage.lastUsed(k.id, k.publicKey, k.lastUsedAt) }))
    },
    rename (publicKey: string, name: string): AccessKey {
      const key = get(publicKey)
      keys.rename(key.id, cleanName(name))
      return { ...key, name: cleanName(name) }
    },
    regenerate: transaction((publicKey: string): IssuedKey => {
      const key = get(publicKey)
      const privateKey = generateKey()
      const newPublic = freshPublicKey()
      keys.replaceSecret(key.id, newPublic, hashSecret(privateKey), seal(newPublic, privateKey))
      changes.invalidate()
      usage.forget(key.id)
      keyEvent('key.regenerated', { ...key, publicKey: newPublic }, { previousPublicKey: key.publicKey })
      return { key: { ...key, publicKey: newPublic, lastUsedAt: null, revealable: vault !== undefined }, privateKey }
    }),
    /**
     * The private key again, from its encrypted copy (key reveal option). Callers check
     * the account holder's password first; 404 for another account's key.
     */
    reveal (accountId: number, publicKey: string): string {
      const key = getOwned(accountId, publicKey)
      if (vault === undefined) throw errors.notFound('key reveal (not enabled on this server)')
      const sealed = keys.sealedPrivateKey(key.id)
      if (sealed === null) throw errors.conflict('no viewable copy of this key is stored (it was created before key reveal was turned on); regenerate it to get a new pair')
      return vault.open(key.publicKey, sealed)
    },
    /** Drops every encrypted copy: with key reveal off, nothing reversible stays stored. */
    forgetSealedCopies (): number {
      return keys.clearSealed()
    },
    setEnabled: transaction((publicKey: string, enabled: boolean): AccessKey => {
      const key = get(publicKey)
      keys.setEnabled(key.id, enabled)
      changes.invalidate()
      if (key.enabled !== enabled) keyEvent(enabled ? 'key.enabled' : 'key.disabled', key)
      return { ...key, enabled }
    }),
    delete: transaction((publicKey: string): AccessKey => {
      const key = get(publicKey)
      keyEvent('key.deleted', key)
      keys.delete(key.id)
      changes.invalidate()
      usage.forget(key.id)
      return key
    }),
    /**
     * One SHA-256 and a Map lookup per request (a query only after a key changed); no write
     * (see UsageTracker). The credential cache holds stored hashes only.
     */
    authenticate (publicKey: string, privateKey: string): AuthResult {
      return check(publicKey, privateKey)
    },
    /**
     * The same check for a whole `Authorization` header value, for the Composer hot path:
     * the key the header opens, or undefined for anything else (not Basic, malformed,
     * refused, or a public key `admit` turns away, i.e. the throttle), which the caller hands
     * to the full path for its answer. A header that passed the full check since the last key
     * change is answered with one Map lookup, without decoding or hashing it again. Every key
     * change (disable, regenerate, delete, suspension; here or in another process) moves the
     * credentials counter, which empties that map before the next lookup, so an entry never
     * outlives the check it stands for. The map holds accepted header values, which carry
     * private keys, in this process's memory only: never written, logged or shared, bounded,
     * and only headers that passed (failures cannot fill it).
     */
    authenticateHeader (header: string, admit: (publicKey: string) => boolean): { accountId: number, keyId: number } | undefined {
      fresh()
      const hit = accepted.get(header)
      if (hit === undefined) {
        if (!header.startsWith('Basic ')) return undefined
        const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8')
        const colon = decoded.indexOf(':')
        if (colon < 0) return undefined
        const publicKey = decoded.slice(0, colon)
        if (!admit(publicKey)) return undefined
        const result = check(publicKey, decoded.slice(colon + 1))
        if (!result.ok) return undefined
        if (accepted.size >= CREDENTIAL_CACHE_MAX) accepted.clear()
        accepted.set(header, { publicKey, accountId: result.accountId, keyId: result.keyId })
        return result
      }
      if (!admit(hit.publicKey)) return undefined
      usage.record(hit.keyId, hit.publicKey)
      return hit
    }
  }

  function check (publicKey: string, privateKey: string): AuthResult {
    if (!KEY_PATTERN.test(publicKey) || privateKey.length !== 32) return { ok: false, reason: 'malformed' }
    const cred = credentialOf(publicKey)
    const matches = secretMatches(privateKey, cred?.privateKeyHash ?? DUMMY_HASH)
    if (cred === undefined) return { ok: false, reason: 'unknown' }
    if (!matches) return { ok: false, reason: 'wrong_secret' }
    // Before the key's own state: every key of a suspended account says why it is refused.
    if (cred.accountDisabled) return { ok: false, reason: 'suspended' }
    if (!cred.enabled) return { ok: false, reason: 'disabled' }
    usage.record(cred.id, publicKey)
    return { ok: true, accountId: cred.accountId, keyId: cred.id }
  }
}

export type AccessKeyService = ReturnType<typeof createAccessKeyService>

/**
 * Remembers when each key was last used and writes those times in one batch now and
 * then (and on close), so authentication never turns a read into a database write.
 */
export function createUsageTracker (deps: { keys: AccessKeysRepository, flushMs: number }) {
  // Milliseconds, turned into ISO strings only when written: this runs on every request.
  const pending = new Map<number, { publicKey: string, at: number }>()
  let timer: NodeJS.Timeout | undefined

  function flush (): void {
    if (pending.size === 0) return
    const entries = [...pending.entries()].map(([id, use]) => ({ id, publicKey: use.publicKey, at: new Date(use.at).toISOString() }))
    pending.clear()
    deps.keys.touchMany(entries)
  }

  return {
    record (keyId: number, publicKey: string): void {
      const use = pending.get(keyId)
      if (use !== undefined && use.publicKey === publicKey) {
        use.at = Date.now()
        return
      }
      pending.set(keyId, { publicKey, at: Date.now() })
      if (timer === undefined && deps.flushMs > 0) {
        timer = setTimeout(() => { timer = undefined; flush() }, deps.flushMs)
        timer.unref()
      } else if (deps.flushMs === 0) {
        flush()
      }
    },
    lastUsed (keyId: number, publicKey: string, stored: string | null): string | null {
      const p = pending.get(keyId)
      if (p === undefined || p.publicKey !== publicKey) return stored
      const at = new Date(p.at).toISOString()
      return stored === null || at > stored ? at : stored
    },
    forget (keyId: number): void {
      pending.delete(keyId)
    },
    flush,
    close (): void {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      flush()
    }
  }
}

export type UsageTracker = ReturnType<typeof createUsageTracker>
