import path from 'node:path'
import { parseRevealKey } from './services/key-vault.js'

export interface Config {
  /** Absolute path of the data directory (SQLite database and archives). */
  readonly dataDir: string
  readonly dbPath: string
  readonly archiveDir: string
  readonly host: string
  readonly port: number
  /** External base URL (scheme://host[:port][/prefix]) used in metadata; derived from the request when unset. */
  readonly publicUrl: string | undefined
  /**
   * Trust X-Forwarded-Proto/-Host/-For: true (from any peer), false, or only from these
   * proxy addresses/CIDRs (PACKYARD_TRUST_PROXY=10.0.0.1,172.16.0.0/12).
   */
  readonly trustProxy: boolean | string[]
  readonly logLevel: string
  /** Realm sent in WWW-Authenticate. */
  readonly realm: string
  /** How often pending key last-used times are written to the database. */
  readonly lastUsedFlushMs: number
  /** How long a SIGTERM/SIGINT shutdown waits for in-flight requests and downloads. */
  readonly shutdownTimeoutMs: number
  /** Serve GET /metrics (Prometheus text format). */
  readonly metricsEnabled: boolean
  /** When set, GET /metrics requires `Authorization: Bearer <token>`. */
  readonly metricsToken: string | undefined
  /**
   * Key reveal (off by default): the AES-256-GCM key, 64 hex characters or base64
   * (PACKYARD_KEY_REVEAL_KEY), or a file holding it (PACKYARD_KEY_REVEAL_KEY_FILE).
   */
  readonly keyRevealKey: string | undefined
  readonly keyRevealKeyFile: string | undefined
  /**
   * The window of the access-key throttle (PACKYARD_KEY_THROTTLE_WINDOW_MS, default one minute):
   * 10 failures of one key from one address, or 100 from one address, within it block for one
   * window, doubling while failures go on.
   */
  readonly keyThrottleWindowMs: number
  /** Anyone may create an account at /account/register (PACKYARD_REGISTRATION=open|closed). */
  readonly registrationOpen: boolean
  /** The largest archive accepted by the HTTP upload routes (PACKYARD_MAX_UPLOAD_BYTES); larger ones get 413. */
  readonly maxUploadBytes: number
  /** Webhooks may target loopback, private and link-local addresses (PACKYARD_WEBHOOK_ALLOW_PRIVATE; off: SSRF guard). */
  readonly webhookAllowPrivate: boolean
  /** The installation's webhook signing key, created on first use (PACKYARD_WEBHOOK_KEY_FILE, default <data dir>/webhook.key). */
  readonly webhookKeyFile: string
  /** How often the server reads the webhook outbox (PACKYARD_WEBHOOK_POLL_MS). */
  readonly webhookPollMs: number
  /** How long one delivery may take (PACKYARD_WEBHOOK_TIMEOUT_MS). */
  readonly webhookTimeoutMs: number
  /** Delay before the first retry, doubling after each failure (PACKYARD_WEBHOOK_BACKOFF_MS). */
  readonly webhookBackoffMs: number
  /** Attempts before a delivery is given up (PACKYARD_WEBHOOK_MAX_ATTEMPTS). */
  readonly webhookMaxAttempts: number
  /** Upstream credentials: an auth.json in Composer's format (PACKYARD_UPSTREAM_AUTH_FILE); never stored or logged. */
  readonly upstreamAuthFile: string | undefined
  /** The same JSON given directly (PACKYARD_UPSTREAM_AUTH, like COMPOSER_AUTH). */
  readonly upstreamAuth: string | undefined
  /** An upstream request fails when no byte arrives for this long (PACKYARD_UPSTREAM_TIMEOUT_MS). */
  readonly upstreamTimeoutMs: number
  /** Mirrored metadata older than this is refreshed in the background, the stored copy served meanwhile (PACKYARD_MIRROR_MAX_AGE, seconds). */
  readonly mirrorMaxAgeSeconds: number
}

export type ConfigInput = Partial<Record<
'dataDir' | 'host' | 'port' | 'publicUrl' | 'trustProxy' | 'logLevel' | 'realm' | 'lastUsedFlushMs' |
'shutdownTimeoutMs' | 'keyThrottleWindowMs' | 'metricsEnabled' | 'metricsToken' | 'keyRevealKey' | 'keyRevealKeyFile' | 'registration' | 'maxUploadBytes' |
'webhookAllowPrivate' | 'webhookKeyFile' | 'webhookPollMs' | 'webhookTimeoutMs' | 'webhookBackoffMs' | 'webhookMaxAttempts' |
'upstreamAuthFile' | 'upstreamAuth' | 'upstreamTimeoutMs' | 'mirrorMaxAgeSeconds', string | number | boolean | undefined>>

export class ConfigError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])

function str (v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined
  return String(v)
}

function parsePort (v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`invalid port "${v}": use a number from 0 to 65535`)
  return n
}

function parseBool (name: string, v: string | undefined, fallback: boolean): boolean {
  if (v === undefined) return fallback
  if (/^(1|true|yes|on)$/i.test(v)) return true
  if (/^(0|false|no|off)$/i.test(v)) return false
  throw new ConfigError(`invalid ${name} "${v}": use true or false`)
}

function parseTrustProxy (v: string | undefined): boolean | string[] {
  if (v === undefined || /^(1|true|yes|on|0|false|no|off)$/i.test(v)) return parseBool('PACKYARD_TRUST_PROXY', v, false)
  const list = v.split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (list.length === 0 || !list.every((s) => /^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(s))) {
    throw new ConfigError(`invalid PACKYARD_TRUST_PROXY "${v}": use true, false or a comma-separated list of proxy addresses/CIDRs`)
  }
  return list
}

function parseMillis (name: string, v: string | undefined, fallback: number): number {
  const n = Number(v ?? fallback)
  if (!Number.isFinite(n) || n < 0) throw new ConfigError(`invalid ${name} "${v ?? ''}": use a number of milliseconds`)
  return n
}

function parsePublicUrl (v: string | undefined): string | undefined {
  if (v === undefined) return undefined
  let url: URL
  try {
    url = new URL(v)
  } catch {
    throw new ConfigError(`invalid PACKYARD_PUBLIC_URL "${v}": use an absolute URL such as https://packages.example.com`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`invalid PACKYARD_PUBLIC_URL "${v}": use http or https`)
  if (url.search !== '' || url.hash !== '' || url.username !== '') throw new ConfigError(`invalid PACKYARD_PUBLIC_URL "${v}": no query, fragment or credentials`)
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`
}

function parseRevealKeyText (v: string | undefined): string | undefined {
  if (v === undefined) return undefined
  if (parseRevealKey(v) === undefined) throw new ConfigError('invalid PACKYARD_KEY_REVEAL_KEY: use 32 random bytes as 64 hex characters or base64 (openssl rand -hex 32)')
  return v
}

function parseRegistration (v: string | undefined): boolean {
  if (v === undefined || /^(open|1|true|yes|on)$/i.test(v)) return true
  if (/^(closed|0|false|no|off)$/i.test(v)) return false
  throw new ConfigError(`invalid PACKYARD_REGISTRATION "${v}": use open or closed`)
}

function parseByteCount (name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 1) throw new ConfigError(`invalid ${name} "${v}": use a whole number of bytes, e.g. 268435456 for 256 MiB`)
  return n
}

/**
 * Builds the typed configuration. Pure: explicit values (CLI flags, tests) win over
 * the environment, which wins over defaults. Relative paths resolve against cwd.
 */
export function loadConfig (env: Record<string, string | undefined> = {}, overrides: ConfigInput = {}, cwd = process.cwd()): Config {
  const pick = (key: keyof ConfigInput, envName: string): string | undefined => str(overrides[key]) ?? str(env[envName])
  const dataDir = path.resolve(cwd, pick('dataDir', 'PACKYARD_DATA_DIR') ?? './storage')
  const logLevel = pick('logLevel', 'PACKYARD_LOG_LEVEL') ?? 'info'
  if (!LOG_LEVELS.has(logLevel)) throw new ConfigError(`invalid log level "${logLevel}": use one of ${[...LOG_LEVELS].join(', ')}`)
  const flush = Number(pick('lastUsedFlushMs', 'PACKYARD_LAST_USED_FLUSH_MS') ?? 30_000)
  if (!Number.isFinite(flush) || flush < 0) throw new ConfigError('invalid PACKYARD_LAST_USED_FLUSH_MS: use a number of milliseconds')
  const revealKeyFile = pick('keyRevealKeyFile', 'PACKYARD_KEY_REVEAL_KEY_FILE')
  const webhookAttempts = Number(pick('webhookMaxAttempts', 'PACKYARD_WEBHOOK_MAX_ATTEMPTS') ?? 8)
  if (!Number.isInteger(webhookAttempts) || webhookAttempts < 1) throw new ConfigError('invalid PACKYARD_WEBHOOK_MAX_ATTEMPTS: use a whole number of at least 1')
  const webhookPollMs = parseMillis('PACKYARD_WEBHOOK_POLL_MS', pick('webhookPollMs', 'PACKYARD_WEBHOOK_POLL_MS'), 1000)
  if (webhookPollMs < 10) throw new ConfigError('invalid PACKYARD_WEBHOOK_POLL_MS: use at least 10 milliseconds')
  const upstreamAuthFile = pick('upstreamAuthFile', 'PACKYARD_UPSTREAM_AUTH_FILE')
  return Object.freeze({
    dataDir,
    dbPath: path.join(dataDir, 'packyard.sqlite'),
    archiveDir: path.join(dataDir, 'archives'),
    host: pick('host', 'PACKYARD_HOST') ?? '0.0.0.0',
    port: parsePort(pick('port', 'PACKYARD_PORT'), 8080),
    publicUrl: parsePublicUrl(pick('publicUrl', 'PACKYARD_PUBLIC_URL')),
    trustProxy: parseTrustProxy(pick('trustProxy', 'PACKYARD_TRUST_PROXY')),
    logLevel,
    realm: pick('realm', 'PACKYARD_REALM') ?? 'Packyard',
    lastUsedFlushMs: flush,
    shutdownTimeoutMs: parseMillis('PACKYARD_SHUTDOWN_TIMEOUT_MS', pick('shutdownTimeoutMs', 'PACKYARD_SHUTDOWN_TIMEOUT_MS'), 30_000),
    keyThrottleWindowMs: parseMillis('PACKYARD_KEY_THROTTLE_WINDOW_MS', pick('keyThrottleWindowMs', 'PACKYARD_KEY_THROTTLE_WINDOW_MS'), 60_000),
    metricsEnabled: parseBool('PACKYARD_METRICS', pick('metricsEnabled', 'PACKYARD_METRICS'), true),
    metricsToken: pick('metricsToken', 'PACKYARD_METRICS_TOKEN'),
    keyRevealKey: parseRevealKeyText(pick('keyRevealKey', 'PACKYARD_KEY_REVEAL_KEY')),
    keyRevealKeyFile: revealKeyFile === undefined ? undefined : path.resolve(cwd, revealKeyFile),
    registrationOpen: parseRegistration(pick('registration', 'PACKYARD_REGISTRATION')),
    maxUploadBytes: parseByteCount('PACKYARD_MAX_UPLOAD_BYTES', pick('maxUploadBytes', 'PACKYARD_MAX_UPLOAD_BYTES'), 256 * 1024 * 1024),
    webhookAllowPrivate: parseBool('PACKYARD_WEBHOOK_ALLOW_PRIVATE', pick('webhookAllowPrivate', 'PACKYARD_WEBHOOK_ALLOW_PRIVATE'), false),
    webhookKeyFile: path.resolve(cwd, pick('webhookKeyFile', 'PACKYARD_WEBHOOK_KEY_FILE') ?? path.join(dataDir, 'webhook.key')),
    webhookPollMs,
    webhookTimeoutMs: parseMillis('PACKYARD_WEBHOOK_TIMEOUT_MS', pick('webhookTimeoutMs', 'PACKYARD_WEBHOOK_TIMEOUT_MS'), 10_000),
    webhookBackoffMs: parseMillis('PACKYARD_WEBHOOK_BACKOFF_MS', pick('webhookBackoffMs', 'PACKYARD_WEBHOOK_BACKOFF_MS'), 5000),
    webhookMaxAttempts: webhookAttempts,
    upstreamAuthFile: upstreamAuthFile === undefined ? undefined : path.resolve(cwd, upstreamAuthFile),
    upstreamAuth: pick('upstreamAuth', 'PACKYARD_UPSTREAM_AUTH'),
    upstreamTimeoutMs: parseMillis('PACKYARD_UPSTREAM_TIMEOUT_MS', pick('upstreamTimeoutMs', 'PACKYARD_UPSTREAM_TIMEOUT_MS'), 30_000),
    mirrorMaxAgeSeconds: parseMillis('PACKYARD_MIRROR_MAX_AGE', pick('mirrorMaxAgeSeconds', 'PACKYARD_MIRROR_MAX_AGE'), 300)
  })
}
