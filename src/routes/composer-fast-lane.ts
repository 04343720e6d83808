import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Config } from '../config.js'
import type { AccessLog } from '../logger.js'
import type { RequestSeries } from '../metrics.js'
import type { AccessKeyService } from '../services/access-keys.js'
import type { CatalogService } from '../services/catalog.js'
import type { EncodedBody } from '../services/encoded-body.js'
import type { KeyThrottle } from '../services/key-throttle.js'
import { chooseCoding, METADATA_CACHE_CONTROL, notModifiedSince, p2Target } from './composer.js'

export interface FastLaneOptions {
  config: Config
  keys: AccessKeyService
  catalog: CatalogService
  throttle: KeyThrottle
  accessLog: AccessLog
  /** The metrics series an answered request is counted in, as the Fastify hook does for the other routes. */
  series?: ((method: string, route: string, statusCode: number) => RequestSeries) | undefined
}

/** True when the lane answered; false hands the request, untouched, to Fastify. */
export type FastLane = (req: IncomingMessage, res: ServerResponse) => boolean

/**
 * The Composer metadata hot path on plain node:http: `GET /packages.json` and `GET /p2/…`
 * with a valid access key, answered (200 or 304) from the same services and with the same
 * bytes and headers as the Fastify routes in composer.ts, without Fastify's per-request
 * work (request and reply objects, hook chain, logger child). Anything else — no or bad
 * credentials, a throttled key, a 404, HEAD, a query string, percent-encoding, a proxy whose
 * forwarded headers would have to be trusted — is not touched and goes to Fastify, which
 * gives the full answer. test/unit/fast-lane.test.ts checks that both give identical answers.
 */
export function createComposerFastLane (opts: FastLaneOptions): FastLane {
  const { config, keys, catalog, throttle, accessLog, series } = opts
  // Behind a trusted proxy the client address and the base URL come from X-Forwarded-*: that
  // is Fastify's job, unless the public URL is configured (then only the address is needed,
  // and with a proxy in front that is also a forwarded value).
  if (config.trustProxy !== false) return () => false
  let requests = 0
  // The three series this lane answers in, looked up once (metrics off: none).
  const counted = series === undefined
    ? undefined
    : {
        root: series('GET', '/packages.json', 200),
        p2: series('GET', '/p2/:vendor/:file', 200),
        p2NotModified: series('GET', '/p2/:vendor/:file', 304)
      }

  /** The response headers of each document's bytes (one array per body and coding, made once). */
  const headerCache = new WeakMap<Buffer, { lastModified: string | undefined, headers: string[] }>()
  function headersOf (bytes: Buffer, coding: string | undefined, lastModified: string | undefined): string[] {
    const known = headerCache.get(bytes)
    if (known !== undefined && known.lastModified === lastModified) return known.headers
    const headers = ['content-type', 'application/json', 'content-length', String(bytes.length), 'vary', 'Accept-Encoding', 'cache-control', METADATA_CACHE_CONTROL]
    if (lastModified !== undefined) headers.push('last-modified', lastModified)
    if (coding !== undefined) headers.push('content-encoding', coding)
    headerCache.set(bytes, { lastModified, headers })
    return headers
  }

  /** `/p2/vendor/name.json` → the package and whether ~dev is asked (p2Target's rules). */
  const targetOf = (url: string): { name: string, dev: boolean } | undefined => {
    const slash = url.indexOf('/', 4)
    return slash < 0 ? undefined : p2Target(url.slice(4, slash), url.slice(slash + 1))
  }

  const admitAll = (): boolean => true
  // The base URL of the last Host seen: clients send the same Host on every request, so the
  // same string (its hash already computed) serves the document lookups, instead of a new one.
  let lastHost = ''
  let lastBase = ''
  const baseOf = (host: string): string => {
    if (host !== lastHost) {
      lastHost = host
      lastBase = `http://${host}`
    }
    return lastBase
  }

  return function fastLane (req, res) {
    if (req.method !== 'GET') return false
    const url = req.url ?? ''
    const isRoot = url === '/packages.json'
    if (!isRoot && !url.startsWith('/p2/')) return false
    if (url.includes('%') || url.includes('?')) return false
    const started = performance.now()

    const header = req.headers.authorization
    if (header === undefined) return false
    const ip = req.socket.remoteAddress ?? ''
    // While no key is failing anywhere the throttle has nothing to say: no closure is made.
    const auth = keys.authenticateHeader(header, throttle.size() === 0 ? admitAll : (publicKey) => throttle.gate(publicKey, ip).blocked === false)
    if (auth === undefined) return false

    const host = req.headers.host
    if (config.publicUrl === undefined && host === undefined) return false
    const base = config.publicUrl ?? baseOf(host!)
    let body: EncodedBody
    let lastModified: string | undefined
    if (isRoot) {
      body = catalog.root(auth.accountId, base)
    } else {
      const doc = catalog.metadataAt(auth.accountId, url, base, targetOf)
      if (doc === undefined) return false
      lastModified = doc.lastModified
      if (notModifiedSince(req.headers['if-modified-since'], doc.updatedAt)) {
        res.writeHead(304, ['last-modified', lastModified, 'cache-control', METADATA_CACHE_CONTROL])
        res.end()
        done(started, url, ip, 304, counted?.p2NotModified)
        return true
      }
      body = doc.body
    }
    const { body: bytes, coding } = body.bytes(chooseCoding(req.headers['accept-encoding']))
    res.writeHead(200, headersOf(bytes, coding, lastModified))
    res.end(bytes)
    done(started, url, ip, 200, isRoot ? counted?.root : counted?.p2)
    return true
  }

  /** Counts and logs an answered request, as the Fastify hooks do for the other routes. */
  function done (started: number, url: string, ip: string, statusCode: number, counter: RequestSeries | undefined): void {
    const ms = performance.now() - started
    counter?.observe(ms / 1000)
    accessLog?.(`fast-${(++requests).toString(36)}`, 'GET', url, statusCode, ip, ms)
  }
}
