import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify'
import type { MirrorService } from '../services/mirror.js'
import { pathParams } from '../http/schemas.js'

export interface AdminUpstreamsOptions {
  mirror: MirrorService
  /** Who may manage upstreams: an onRequest hook that throws (401/403) for anyone else. */
  authorize: onRequestAsyncHookHandler
}

const addBody = {
  type: 'object',
  required: ['name', 'url'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 64 },
    url: { type: 'string', minLength: 1, maxLength: 2000 },
    mode: { type: 'string', enum: ['lazy', 'approved'] },
    access: { type: 'string', enum: ['all', 'granted'] },
    patterns: { type: 'array', maxItems: 500, items: { type: 'string', minLength: 1, maxLength: 214 } }
  },
  additionalProperties: false
} as const

const packageBody = {
  type: 'object',
  required: ['package'],
  properties: { package: { type: 'string', minLength: 3, maxLength: 214 } },
  additionalProperties: false
} as const

type Name = { name: string }

/**
 * The operator's upstream API, mounted at /api/v1/admin: the same management as
 * `packyard upstream …` and `packyard grant <user> upstream:<name>`, through the same service.
 */
export default async function adminUpstreams (app: FastifyInstance, opts: AdminUpstreamsOptions): Promise<void> {
  const { mirror } = opts
  app.addHook('onRequest', opts.authorize)

  app.get('/upstreams', async () => mirror.list())

  app.post<{ Body: { name: string, url: string, mode?: string, access?: string, patterns?: string[] } }>(
    '/upstreams', { schema: { body: addBody } }, async (request, reply) => {
      const added = await mirror.add(request.body)
      request.log.info({ upstream: added.name, url: added.url, mode: added.mode, access: added.access }, 'upstream added')
      return reply.code(201).send(mirror.list().find((u) => u.name === added.name) ?? added)
    })

  app.delete<{ Params: Name }>('/upstreams/:name', { schema: { params: pathParams('name') } }, async (request, reply) => {
    const removed = mirror.remove(request.params.name)
    request.log.info({ upstream: removed.name }, 'upstream removed')
    return reply.code(204).send()
  })

  for (const [verb, approved] of [['approve', true], ['unapprove', false]] as const) {
    app.post<{ Params: Name, Body: { package: string } }>(`/upstreams/:name/${verb}`,
      { schema: { params: pathParams('name'), body: packageBody } }, async (request) => {
        const result = mirror.approve(request.params.name, request.body.package, approved)
        request.log.info(result, 'upstream package approval changed')
        return result
      })
  }

  // As `upstream sync <name>`: what could be synced is; any failure makes it a 502 (the upstream
  // failed us) whose body is the same result with every failure listed, plus the usual code and message.
  app.post<{ Params: Name }>('/upstreams/:name/sync', { schema: { params: pathParams('name') } }, async (request, reply) => {
    const [result] = await mirror.sync(request.params.name)
    if (result === undefined || result.ok) return result
    request.log.warn({ upstream: result.upstream, errors: result.errors }, 'upstream sync failed')
    const message = `upstream ${result.upstream}: ${result.errors.length} failure(s) while syncing; first: ${result.errors[0] ?? ''}`
    return reply.code(502).send({ code: 'UPSTREAM_SYNC_FAILED', message, ...result })
  })

  // Access to an upstream added with access "granted" (the CLI's `grant <user> upstream:<name>`).
  app.put<{ Params: Name & { username: string } }>('/accounts/:username/upstreams/:name', { schema: { params: pathParams('username', 'name') } }, async (request) => {
    const result = mirror.grant(request.params.username, request.params.name, true)
    request.log.info(result, 'upstream granted')
    return result
  })

  app.delete<{ Params: Name & { username: string } }>('/accounts/:username/upstreams/:name', { schema: { params: pathParams('username', 'name') } }, async (request, reply) => {
    const result = mirror.grant(request.params.username, request.params.name, false)
    request.log.info(result, 'upstream grant revoked')
    return reply.code(204).send()
  })
}
