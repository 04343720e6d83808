import type { FastifyInstance } from 'fastify'
import type { Config } from '../config.js'
import * as pages from '../web/pages.js'
import { basePath, securityHeaders } from './account/session.js'
import { baseUrlOf } from './composer.js'

/**
 * `GET /` for a browser: what this server is, where to log in, and what to put in
 * composer.json and auth.json. Any other client gets the JSON 404 it always got.
 */
export default async function landingRoutes (app: FastifyInstance, opts: { config: Config }): Promise<void> {
  const { config } = opts
  const base = basePath(config.publicUrl)
  app.addHook('onSend', securityHeaders)

  app.get('/', async (request, reply) => {
    if (!(request.headers.accept ?? '').includes('text/html')) return reply.callNotFound()
    const baseUrl = baseUrlOf(config, request)
    const ctx: pages.PageContext = { base, csrf: '', account: null, flash: null, registrationOpen: config.registrationOpen }
    const doc = pages.landingPage(ctx, { baseUrl, host: new URL(baseUrl).host })
    return reply.type('text/html; charset=utf-8').send(doc.value)
  })
}
