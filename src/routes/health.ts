import type { FastifyInstance } from 'fastify'
import type { Db } from '../db/database.js'

export default async function healthRoutes (app: FastifyInstance, opts: { db: Db }): Promise<void> {
  const ping = opts.db.prepare('SELECT 1')
  app.get('/healthz', async () => {
    ping.get()
    return { status: 'ok' }
  })
}
