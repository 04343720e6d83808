import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify'
import { WEBHOOK_EVENTS, type WebhookService } from '../services/webhooks.js'

export interface AdminWebhooksOptions {
  webhooks: WebhookService
  /** Who may manage webhooks: an onRequest hook that throws (401/403) for anyone else. */
  authorize: onRequestAsyncHookHandler
}

type IdParams = { Params: { id: number } }

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1 } }
} as const

const createBody = {
  type: 'object',
  required: ['url', 'events'],
  properties: {
    url: { type: 'string', minLength: 1, maxLength: 2000 },
    events: { type: 'array', minItems: 1, maxItems: WEBHOOK_EVENTS.length, uniqueItems: true, items: { type: 'string', enum: [...WEBHOOK_EVENTS] } }
  },
  additionalProperties: false
} as const

/**
 * Webhooks for the operator: register a URL for some events (the signing secret is in the
 * answer, once), list, remove, and look at recent deliveries. Mounted at /api/v1/admin/webhooks.
 */
export default async function adminWebhooks (app: FastifyInstance, opts: AdminWebhooksOptions): Promise<void> {
  const { webhooks } = opts
  app.addHook('onRequest', opts.authorize)

  app.post<{ Body: { url: string, events: string[] } }>('/', { schema: { body: createBody } }, async (request, reply) => {
    const created = await webhooks.create(request.body)
    request.log.info({ webhookId: created.id, url: created.url, events: created.events }, 'webhook created')
    return reply.code(201).send({ id: created.id, url: created.url, events: created.events, secret: created.secret })
  })

  app.get('/', async () => webhooks.list())

  app.get<IdParams>('/:id', { schema: { params: idParams } }, async (request) => webhooks.get(request.params.id))

  app.delete<IdParams>('/:id', { schema: { params: idParams } }, async (request, reply) => {
    const removed = webhooks.remove(request.params.id)
    request.log.info({ webhookId: removed.id, url: removed.url }, 'webhook removed')
    return reply.code(204).send()
  })

  app.get<IdParams>('/:id/deliveries', { schema: { params: idParams } }, async (request) => webhooks.deliveries(request.params.id))
}
