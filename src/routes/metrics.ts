import type { FastifyInstance } from 'fastify'
import type { Metrics } from '../metrics.js'
import { hashSecret, secretMatches } from '../services/secrets.js'

/**
 * GET /metrics in the Prometheus text format. Needs no repository credentials (a scraper
 * has no access key); with a token configured it needs `Authorization: Bearer <token>`.
 */
export default async function metricsRoutes (app: FastifyInstance, opts: { metrics: Metrics, token: string | undefined }): Promise<void> {
  const expected = opts.token === undefined ? undefined : hashSecret(opts.token)

  app.get('/metrics', async (request, reply) => {
    if (expected !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')
      if (m === null || !secretMatches(m[1]!, expected)) {
        return reply.code(401).header('www-authenticate', 'Bearer realm="metrics"')
          .type('application/json').send({ code: 'UNAUTHORIZED', message: 'metrics need Authorization: Bearer <PACKYARD_METRICS_TOKEN>' })
      }
    }
    reply.header('cache-control', 'no-store')
    return reply.type(opts.metrics.contentType).send(await opts.metrics.render())
  })
}
