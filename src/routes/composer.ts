import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fastifyBasicAuth from '@fastify/basic-auth'
import negotiate from '@fastify/accept-negotiator'
import type { Config } from '../config.js'
import type { AccessKeyService, AuthResult } from '../services/access-keys.js'
import { ACCOUNT_SUSPENDED } from '../services/accounts.js'
import type { CatalogService } from '../services/catalog.js'
import type { AdvisoryService } from '../services/advisories.js'
import type { MirrorService } from '../services/mirror.js'
import mirrorArchiveRoutes from './mirror-archives.js'
import { createCodingChooser, type ContentCoding, type EncodedBody } from '../services/encoded-body.js'
import type { KeyThrottle } from '../services/key-throttle.js'
import { errors } from '../errors.js'
import { isValidPackageName } from '../composer/composer-json.js'
import { sendImmutableFile } from '../http/immutable-file.js'

export interface ComposerRoutesOptions {
  config: Config
  keys: AccessKeyService
  catalog: CatalogService
  /** Security advisories for `composer audit`. */
  advisories: AdvisoryService
  throttle: KeyThrottle
  /** Called with the reason of every failed authentication (metrics). */
  onAuthFailure?: (reason: string) => void
  /** Called for every answer refused by the key throttle (metrics). */
  onThrottled?: () => void
  /** Called for every archive served (metrics). */
  onArchiveDownload?: (name: string) => void
  /** Mirrored upstreams: lazy p2 fetches and the /mirror/… archives (services/mirror.ts). */
  mirror?: MirrorService
}

export const AUTH_MESSAGES: Record<Exclude<AuthResult, { ok: true }>['reason'] | 'missing', string> = {
  missing: 'Authentication required: put your access key pair in auth.json (public key as username, private key as password).',
  malformed: 'Your access keys are invalid: the public and private key are each 32 characters. Check auth.json against your account\'s Access Keys page.',
  unknown: 'Your access keys are invalid. Check the public and private key in auth.json against your account\'s Access Keys page.',
  wrong_secret: 'Your access keys are invalid. Check the public and private key in auth.json against your account\'s Access Keys page.',
  disabled: 'This access key is disabled. Enable it on your account\'s Access Keys page, or use another key.',
  suspended: `${ACCOUNT_SUSPENDED} Its access keys work again as soon as it is restored; auth.json needs no change.`
}

const THROTTLED_MESSAGE = 'Too many failed attempts with these access keys from your address. Wait and check the public and private key in auth.json against your account\'s Access Keys page.'

export const chooseCoding = createCodingChooser((header) => negotiate<ContentCoding>(header, ['br', 'gzip']) ?? undefined)

/** Sends a prebuilt body in the best coding the client accepts, as exactly `application/json`. */
function sendEncoded (request: FastifyRequest, reply: FastifyReply, encoded: EncodedBody): FastifyReply {
  const { body, coding } = encoded.bytes(chooseCoding(request.headers['accept-encoding']))
  reply.header('vary', 'Accept-Encoding')
  if (coding !== undefined) reply.header('content-encoding', coding satisfies ContentCoding)
  return sendJson(reply, body)
}

/**
 * Sends a JSON document as exactly `application/json`. A Buffer, because Fastify appends
 * `; charset=utf-8` to a JSON type for string payloads (docs/composer-protocol.md §4.6, trap 11).
 */
function sendJson (reply: FastifyReply, body: string | Buffer): FastifyReply {
  return reply.header('content-type', 'application/json').send(typeof body === 'string' ? Buffer.from(body) : body)
}

/** The external base URL: configured, or from the request (honouring X-Forwarded-* when trusted). */
export function baseUrlOf (config: Config, request: FastifyRequest): string {
  return config.publicUrl ?? `${request.protocol}://${request.host}`
}

/** Metadata may be stored by the client but must be revalidated (Last-Modified) each time. */
export const METADATA_CACHE_CONTROL = 'private, no-cache'

/** Whether an If-Modified-Since header covers a document last changed at `unixSeconds`. */
export function notModifiedSince (ims: string | undefined, unixSeconds: number): boolean {
  if (ims === undefined) return false
  const since = Date.parse(ims)
  return Number.isFinite(since) && Math.floor(since / 1000) >= unixSeconds
}

/** The package and half (stable or ~dev) a /p2/<vendor>/<file> URL asks for, if it names one. */
export function p2Target (vendor: string, file: string): { name: string, dev: boolean } | undefined {
  const match = /^(.+?)(~dev)?\.json$/.exec(file)
  const name = match === null ? '' : `${vendor}/${match[1]}`
  return match === null || !isValidPackageName(name) ? undefined : { name, dev: match[2] !== undefined }
}

/**
 * The Composer v2 repository: packages.json, p2 metadata, dist archives, notify-batch
 * and search. Every route here requires an access key (HTTP Basic).
 */
export default async function composerRoutes (app: FastifyInstance, opts: ComposerRoutesOptions): Promise<void> {
  const { config, keys, catalog, throttle } = opts

  function refuseThrottled (request: FastifyRequest, reply: FastifyReply, retryAfterSeconds: number, done: (err?: Error) => void): void {
    opts.onThrottled?.()
    request.log.info({ retryAfterSeconds }, 'access key throttled')
    reply.header('retry-after', String(retryAfterSeconds))
    done(errors.tooManyRequests(THROTTLED_MESSAGE))
  }

  await app.register(fastifyBasicAuth, {
    authenticate: { realm: config.realm },
    validate (username: string, password: string, request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) {
      const gate = throttle.gate(username, request.ip)
      // A blocked key is refused before its secret is checked: guessing gains nothing.
      if (gate.blocked === 'key') return refuseThrottled(request, reply, gate.retryAfterSeconds, done)
      const result = keys.authenticate(username, password)
      if (!result.ok) {
        // A suspended account's right pair is no guess: it must not block the key after it is restored.
        if (result.reason !== 'suspended') throttle.failed(username, request.ip)
        // From an address that failed too often, a wrong pair is throttled, whatever was wrong with it.
        if (gate.blocked === 'address') return refuseThrottled(request, reply, gate.retryAfterSeconds, done)
        opts.onAuthFailure?.(result.reason)
        request.log.info({ reason: result.reason }, 'access key rejected')
        return done(errors.unauthorized(AUTH_MESSAGES[result.reason]))
      }
      request.principal = { accountId: result.accountId, keyId: result.keyId, via: 'key' }
      done()
    }
  })
  app.addHook('onRequest', app.basicAuth)
  app.addHook('onError', async (request, _reply, error) => {
    if ((error as { code?: string }).code === 'FST_BASIC_AUTH_MISSING_OR_BAD_AUTHORIZATION_HEADER') opts.onAuthFailure?.('missing')
  })

  const accountOf = (request: FastifyRequest): number => request.principal!.accountId

  app.get('/packages.json', async (request, reply) => {
    reply.header('cache-control', METADATA_CACHE_CONTROL)
    return sendEncoded(request, reply, catalog.root(accountOf(request), baseUrlOf(config, request)))
  })

  app.get<{ Params: { vendor: string, file: string } }>('/p2/:vendor/:file', async (request, reply) => {
    const target = p2Target(request.params.vendor, request.params.file)
    if (target === undefined) throw errors.notFound(`package metadata ${request.params.vendor}/${request.params.file}`)
    let doc = catalog.metadata(accountOf(request), target.name, target.dev, baseUrlOf(config, request))
    // A name a lazy upstream may have, not fetched yet: fetch it once, then answer from the store.
    if (doc === undefined && opts.mirror?.mayFetch(accountOf(request), target.name) === true && !catalog.exists(target.name)) {
      await opts.mirror.fetchLazy(accountOf(request), target.name)
      doc = catalog.metadata(accountOf(request), target.name, target.dev, baseUrlOf(config, request))
    }
    // 404, never 401/403: Composer treats 404 as "not in this repository" and carries on.
    if (doc === undefined) throw errors.notFound(`package ${target.name}`)
    reply.header('last-modified', doc.lastModified)
    reply.header('cache-control', METADATA_CACHE_CONTROL)
    if (notModifiedSince(request.headers['if-modified-since'], doc.updatedAt)) return reply.code(304).send()
    return sendEncoded(request, reply, doc.body)
  })

  // HEAD is routed here explicitly: Fastify's automatic HEAD would read the whole file.
  app.route<{ Params: { vendor: string, name: string, file: string } }>({
    method: ['GET', 'HEAD'],
    url: '/archives/:vendor/:name/:file',
    exposeHeadRoute: false,
    handler: async (request, reply) => {
      const { vendor, name, file } = request.params
      const packageName = `${vendor}/${name}`
      if (!isValidPackageName(packageName) || !/^[A-Za-z0-9._-]+\.zip$/.test(file)) throw errors.notFound(`archive ${packageName}/${file}`)
      const version = catalog.archive(accountOf(request), packageName, file)
      reply.header('content-type', 'application/zip')
      reply.header('content-disposition', `attachment; filename="${version.distFile}"`)
      const sent = await sendImmutableFile(request, reply, {
        size: version.size,
        sha1: version.shasum,
        lastModified: new Date(version.releasedAt),
        open: () => catalog.openArchive(version)
      })
      if (sent.fromStart) opts.onArchiveDownload?.(packageName)
      return sent.reply
    }
  })

  app.post('/downloads/', async (request, reply) => {
    const body = request.body as { downloads?: unknown } | undefined
    if (typeof body !== 'object' || body === null || !Array.isArray(body.downloads)) {
      throw errors.badRequest('expected a JSON body {"downloads":[{"name":"vendor/package","version":"1.0.0.0"}]}')
    }
    const downloads = body.downloads.filter((d): d is { name: string, version: string } =>
      typeof d === 'object' && d !== null && typeof (d as { name?: unknown }).name === 'string' && typeof (d as { version?: unknown }).version === 'string')
    if (downloads.length !== body.downloads.length) throw errors.badRequest('every download needs a "name" and a "version" string')
    catalog.recordDownloads(accountOf(request), downloads.slice(0, 1000))
    return sendJson(reply, '{"status":"success"}')
  })

  // Composer's audit sends PHP's http_build_query of the names: packages[0]=a%2Fb&packages[1]=…
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, new URLSearchParams(body as string))
  })

  // The `security-advisories` api-url of packages.json (docs/composer-protocol.md §6.5).
  app.post('/api/security-advisories/', async (request, reply) => {
    const names: string[] = []
    if (request.body instanceof URLSearchParams) {
      for (const [key, value] of request.body) if (/^packages(\[\d*\])?$/.test(key)) names.push(value)
    }
    const advisories = await opts.advisories.forAccount(accountOf(request), names.slice(0, 5000))
    return sendJson(reply, JSON.stringify({ advisories }))
  })

  app.get<{ Querystring: { q?: string, type?: string } }>('/search.json', async (request, reply) => {
    const q = typeof request.query.q === 'string' ? request.query.q : ''
    const type = typeof request.query.type === 'string' ? request.query.type : ''
    const base = baseUrlOf(config, request)
    const results = catalog.search(accountOf(request), q)
      .filter((r) => type === '' || r.type === type)
      .map((r) => ({ name: r.name, description: r.description ?? '', url: `${base}/p2/${r.name}.json`, downloads: r.downloads, favers: 0, abandoned: r.abandoned }))
    return sendJson(reply, JSON.stringify({ results, total: results.length }))
  })

  // In this context, so the access-key check above applies to mirrored archives too.
  if (opts.mirror !== undefined) await app.register(mirrorArchiveRoutes, { catalog, mirror: opts.mirror, onArchiveDownload: opts.onArchiveDownload })
}
