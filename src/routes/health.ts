import type { FastifyInstance } from 'fastify'
import type { HealthService } from '../services/health.js'

export default async function healthRoutes (app: FastifyInstance, opts: { health: HealthService }): Promise<void> {
  const { health } = opts
  app.get('/healthz', async () => health.check())
}
