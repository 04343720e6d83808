import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fastifyBasicAuth from '@fastify/basic-auth'
import type { Config } from '../config.js'
import type { AccessKeyService, AuthResult } from '../services/access-keys.js'
import type { CatalogService } from '../services/catalog.js'
import { errors } from '../errors.js'
import { isValidPackageName } from '../composer/composer-json.js'

export interface ComposerRoutesOptions {
  config: Config
  keys: AccessKeyService
  catalog: CatalogService
  /** Called with the reason of every failed authentication (metrics). */
  onAuthFailure?: (reason: string) => void
  /** Called for every archive served (metrics). */
  onArchiveDownload?: (name: string) => void
}

export const AUTH_MESSAGES: Record<Exclude<AuthResult, { ok: true }>['reason'] | 'missing', string> = {
  missing: 'Authentication required: put your access key pair in auth.json (public key as username, private key as password).',
  malformed: 'Your access keys are invalid: the public and private key are each 32 characters. Check auth.json against your account\'s Access Keys page.',
  unknown: 'Your access keys are invalid. Check the public and private key in auth.json against your account\'s Access Keys page.',
  wrong_secret: 'Your access keys are invalid. Check the public and private key in auth.json against your account\'s Access Keys page.',
  disabled: 'This access key is disabled. Enable it on your account\'s Access Keys page, or use another key.'
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

function httpDate (unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toUTCString()
}

function notModified (request: FastifyRequest, unixSeconds: number): boolean {
  const ims = request.headers['if-modified-since']
  if (ims === undefined) return false
  const since = Date.parse(ims)
  return Number.isFinite(since) && Math.floor(since / 1000) >= unixSeconds
}

/**
 * The Composer v2 repository: packages.json, p2 metadata, dist archives, notify-batch
 * and search. Every route here requires an access key (HTTP Basic).
 */
export default async function composerRoutes (app: FastifyInstance, opts: ComposerRoutesOptions): Promise<void> {
  const { config, keys, catalog } = opts

  await app.register(fastifyBasicAuth, {
    authenticate: { realm: config.realm },
    async validate (username: string, password: string, request: FastifyRequest) {
      const result = keys.authenticate(username, password)
      if (!result.ok) {
        opts.onAuthFailure?.(result.reason)
        request.log.info({ reason: result.reason }, 'access key rejected')
        throw errors.unauthorized(AUTH_MESSAGES[result.reason])
      }
      request.principal = { accountId: result.accountId, keyId: result.keyId, via: 'key' }
    }
  })
  app.addHook('onRequest', app.basicAuth)
  app.addHook('onError', async (request, _reply, error) => {
    if ((error as { code?: string }).code === 'FST_BASIC_AUTH_MISSING_OR_BAD_AUTHORIZATION_HEADER') opts.onAuthFailure?.('missing')
  })

  const accountOf = (request: FastifyRequest): number => request.principal!.accountId

  app.get('/packages.json', async (request, reply) => {
    const base = baseUrlOf(config, request)
    const names = catalog.visibleNames(accountOf(request))
    const root: Record<string, unknown> = {
      packages: {},
      'metadata-url': `${base}/p2/%package%.json`,
      'notify-batch': `${base}/downloads/`,
      search: `${base}/search.json?q=%query%&type=%type%`
    }
    // An empty list counts as absent for Composer, which would then ask for every name.
    if (names.length > 0) root['available-packages'] = names
    else root['available-package-patterns'] = ['-/-']
    reply.header('cache-control', 'private, no-cache')
    return sendJson(reply, JSON.stringify(root))
  })

  app.get<{ Params: { vendor: string, file: string } }>('/p2/:vendor/:file', async (request, reply) => {
    const match = /^(.+?)(~dev)?\.json$/.exec(request.params.file)
    const name = match === null ? '' : `${request.params.vendor}/${match[1]}`
    if (match === null || !isValidPackageName(name)) throw errors.notFound(`package metadata ${request.params.vendor}/${request.params.file}`)
    const doc = catalog.metadata(accountOf(request), name, match[2] !== undefined, baseUrlOf(config, request))
    // 404, never 401/403: Composer treats 404 as "not in this repository" and carries on.
    if (doc === undefined) throw errors.notFound(`package ${name}`)
    reply.header('last-modified', httpDate(doc.updatedAt))
    reply.header('cache-control', 'private, no-cache')
    if (notModified(request, doc.updatedAt)) return reply.code(304).send()
    return sendJson(reply, doc.body)
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
      reply.header('content-length', version.size)
      reply.header('content-disposition', `attachment; filename="${version.distFile}"`)
      reply.header('x-checksum-sha1', version.shasum)
      reply.header('cache-control', 'private, max-age=31536000, immutable')
      reply.header('last-modified', new Date(version.releasedAt).toUTCString())
      // Headers only: no file opened, not counted as a download.
      if (request.method === 'HEAD') return reply.send()
      opts.onArchiveDownload?.(packageName)
      return reply.send(catalog.openArchive(version))
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

  app.get<{ Querystring: { q?: string, type?: string } }>('/search.json', async (request, reply) => {
    const q = typeof request.query.q === 'string' ? request.query.q : ''
    const type = typeof request.query.type === 'string' ? request.query.type : ''
    const base = baseUrlOf(config, request)
    const results = catalog.search(accountOf(request), q)
      .filter((r) => type === '' || r.type === type)
      .map((r) => ({ name: r.name, description: r.description ?? '', url: `${base}/p2/${r.name}.json`, downloads: r.downloads, favers: 0, abandoned: false }))
    return sendJson(reply, JSON.stringify({ results, total: results.length }))
  })
}
