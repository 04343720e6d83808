import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import type { Config } from './config.js'
import { createContext } from './context.js'
import { isPackyardError } from './errors.js'
import { loggerOptions } from './logger.js'
import healthRoutes from './routes/health.js'
import composerRoutes, { AUTH_MESSAGES } from './routes/composer.js'

export interface BuildOptions {
  /** Pino destination stream (tests capture the log); stdout when unset. */
  logStream?: NodeJS.WritableStream
}

/**
 * Sends a JSON error. Content-Type is exactly application/json: Composer prints the
 * `warning` of a 4xx body only then (COMPOSER-PROTOCOL.md §4.6).
 */
function errorBody (statusCode: number, code: string, message: string): string {
  const body: Record<string, string> = { code, message }
  // Composer shows `warning` on any 4xx; only auth failures deserve that prominence.
  if (statusCode === 401 || statusCode === 403) body.warning = message
  return JSON.stringify(body)
}

/** The composition root: one database, its services, and the HTTP routes, wired in order. */
export async function buildApp (config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const ctx = createContext(config)
  const logger = options.logStream === undefined
    ? loggerOptions(config.logLevel)
    : { ...loggerOptions(config.logLevel), stream: options.logStream }
  const app = Fastify({
    logger,
    trustProxy: config.trustProxy,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 300 },
    bodyLimit: 1024 * 1024
  })
  app.decorate('ctx', ctx)
  app.decorateRequest('principal', null)
  app.addHook('onClose', async () => { ctx.close() })

  app.setErrorHandler((err: FastifyError, request, reply) => {
    let status = err.statusCode ?? 500
    let code = err.code ?? 'INTERNAL'
    let message = err.message
    if (isPackyardError(err)) {
      ({ statusCode: status, code, message } = err)
    } else if (err.validation !== undefined) {
      status = 400
      code = 'BAD_REQUEST'
    } else if (status === 401) {
      message = AUTH_MESSAGES.missing
    } else if (status >= 500) {
      request.log.error({ err }, 'request failed')
      code = 'INTERNAL'
      message = 'Internal server error'
    }
    if (status === 401 && reply.getHeader('www-authenticate') === undefined) {
      reply.header('www-authenticate', `Basic realm="${config.realm}", charset="UTF-8"`)
    }
    return reply.code(status).type('application/json').send(errorBody(status, code, message))
  })
  app.setNotFoundHandler((request, reply) => {
    return reply.code(404).type('application/json').send(errorBody(404, 'NOT_FOUND', `No such URL: ${request.method} ${request.url.split('?')[0]}`))
  })

  await app.register(healthRoutes, { db: ctx.db })
  await app.register(composerRoutes, { config, keys: ctx.keys, catalog: ctx.catalog, store: ctx.store })
  return app
}
