import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify'
import type { Access, GrantRule } from '../domain/catalog.js'
import type { AdvisoryService } from '../services/advisories.js'
import { SEVERITIES } from '../services/advisories.js'
import type { CatalogService } from '../services/catalog.js'
import type { GrantResult, GrantService } from '../services/grants.js'
import { pathParams } from '../http/schemas.js'

export interface AdminCatalogOptions {
  catalog: CatalogService
  grants: GrantService
  advisories: AdvisoryService
  /** Who may manage the catalog: an onRequest hook that throws (401/403) for anyone else. */
  authorize: onRequestAsyncHookHandler
}

type Username = { username: string }
type PackageParams = { vendor: string, name: string }

const optionalText = { type: ['string', 'null'], maxLength: 500 } as const
const ruleBody = {
  type: 'object',
  properties: { constraint: optionalText, updatesUntil: optionalText, minimumStability: optionalText },
  additionalProperties: false
} as const

const patchBody = {
  type: 'object',
  minProperties: 1,
  properties: {
    access: { type: 'string', enum: ['public', 'restricted'] },
    abandoned: { anyOf: [{ type: 'boolean' }, { type: 'string', minLength: 3, maxLength: 214 }] }
  },
  additionalProperties: false
} as const

const advisoryBody = {
  type: 'object',
  required: ['package', 'affectedVersions', 'title'],
  properties: {
    package: { type: 'string', minLength: 3, maxLength: 214 },
    affectedVersions: { type: 'string', minLength: 1, maxLength: 500 },
    title: { type: 'string', minLength: 1, maxLength: 500 },
    cve: { type: 'string', maxLength: 50 },
    link: { type: 'string', maxLength: 2000 },
    severity: { type: 'string', enum: [...SEVERITIES] }
  },
  additionalProperties: false
} as const

const flatRule = (rule: GrantRule | null): GrantRule => rule ?? { constraint: null, updatesUntil: null, minimumStability: null }

function grantAnswer (r: GrantResult): Record<string, unknown> {
  if ('edition' in r) return { username: r.username, edition: r.edition, granted: r.granted }
  return { username: r.username, target: 'package' in r ? r.package : r.vendor, kind: 'package' in r ? 'package' : 'vendor', ...flatRule(r.rule) }
}

/**
 * The operator's catalog API, mounted at /api/v1/admin: grants (with licence rules, for a
 * package, `vendor/*` or an edition), packages (access, abandoned, yank) and security
 * advisories. Every change goes through the same services as the CLI.
 */
export default async function adminCatalog (app: FastifyInstance, opts: AdminCatalogOptions): Promise<void> {
  const { catalog, grants, advisories } = opts
  app.addHook('onRequest', opts.authorize)

  // --- grants ---------------------------------------------------------------------------------
  app.get<{ Params: Username }>('/accounts/:username/grants', { schema: { params: pathParams('username') } }, async (request) => {
    const list = grants.list(request.params.username)
    return { username: list.username, grants: list.grants.map((g) => ({ target: g.target, kind: g.kind, ...g.rule, createdAt: g.createdAt })), editions: list.editions }
  })

  app.put<{ Params: Username & PackageParams, Body: { constraint?: string | null, updatesUntil?: string | null, minimumStability?: string | null } | undefined }>(
    '/accounts/:username/grants/:vendor/:name', {
      schema: { params: pathParams('username', 'vendor', 'name'), body: ruleBody },
      // No body: a grant of every version.
      preValidation: async (request) => { request.body ??= {} }
    }, async (request) => {
      const { username, vendor, name } = request.params
      const result = grants.grant(username, `${vendor}/${name}`, request.body ?? {})
      request.log.info({ username, target: `${vendor}/${name}` }, 'grant set')
      return grantAnswer(result)
    })

  app.delete<{ Params: Username & PackageParams }>('/accounts/:username/grants/:vendor/:name', { schema: { params: pathParams('username', 'vendor', 'name') } }, async (request, reply) => {
    const { username, vendor, name } = request.params
    grants.revoke(username, `${vendor}/${name}`)
    request.log.info({ username, target: `${vendor}/${name}` }, 'grant revoked')
    return reply.code(204).send()
  })

  app.put<{ Params: Username & { edition: string } }>('/accounts/:username/editions/:edition', { schema: { params: pathParams('username', 'edition') } }, async (request) => {
    return grantAnswer(grants.grant(request.params.username, request.params.edition))
  })

  app.delete<{ Params: Username & { edition: string } }>('/accounts/:username/editions/:edition', { schema: { params: pathParams('username', 'edition') } }, async (request, reply) => {
    grants.revoke(request.params.username, request.params.edition)
    return reply.code(204).send()
  })

  // --- packages -------------------------------------------------------------------------------
  app.get('/packages', async () => catalog.list())

  app.get<{ Params: PackageParams }>('/packages/:vendor/:name', { schema: { params: pathParams('vendor', 'name') } }, async (request) =>
    catalog.describe(`${request.params.vendor}/${request.params.name}`))

  app.patch<{ Params: PackageParams, Body: { access?: Access, abandoned?: boolean | string } }>(
    '/packages/:vendor/:name', { schema: { params: pathParams('vendor', 'name'), body: patchBody } }, async (request) => {
      const name = `${request.params.vendor}/${request.params.name}`
      if (request.body.access !== undefined) catalog.setAccess(name, request.body.access)
      if (request.body.abandoned !== undefined) catalog.setAbandoned(name, request.body.abandoned)
      request.log.info({ name, ...request.body }, 'package changed')
      return catalog.describe(name)
    })

  for (const [verb, yanked] of [['yank', true], ['unyank', false]] as const) {
    app.post<{ Params: PackageParams & { version: string } }>(`/packages/:vendor/:name/versions/:version/${verb}`,
      { schema: { params: pathParams('vendor', 'name', 'version') } }, async (request) => {
        const { vendor, name, version } = request.params
        const result = yanked ? catalog.yank(`${vendor}/${name}`, version) : catalog.unyank(`${vendor}/${name}`, version)
        request.log.info({ name: result.name, version: result.version, yanked }, 'version yank changed')
        return result
      })
  }

  // --- advisories -----------------------------------------------------------------------------
  app.get('/advisories', async () => advisories.list())

  app.post<{ Body: { package: string, affectedVersions: string, title: string, cve?: string, link?: string, severity?: string } }>(
    '/advisories', { schema: { body: advisoryBody } }, async (request, reply) => {
      const created = advisories.add(request.body)
      request.log.info({ advisoryId: created.advisoryId, package: created.packageName }, 'advisory added')
      return reply.code(201).send(created)
    })

  app.delete<{ Params: { id: string } }>('/advisories/:id', { schema: { params: pathParams('id') } }, async (request, reply) => {
    const removed = advisories.remove(request.params.id)
    request.log.info({ advisoryId: removed.advisoryId }, 'advisory removed')
    return reply.code(204).send()
  })
}
