import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import type { Config } from './config.js'
import { createContext } from './context.js'
import { isPackyardError } from './errors.js'
import { loggerOptions } from './logger.js'
import healthRoutes from './routes/health.js'
import composerRoutes, { AUTH_MESSAGES } from './routes/composer.js'
import metricsRoutes from './routes/metrics.js'
import { createMetrics, observeHttp } from './metrics.js'
import accountPages from './routes/account-pages.js'
import accountApi from './routes/account-api.js'
import downloadsRoutes from './routes/downloads.js'
import { createLoginThrottle } from './services/login-throttle.js'

export interface BuildOptions {
  /** Pino destination stream (tests capture the log); stdout when unset. */
  logStream?: NodeJS.WritableStream
}

/**
 * A JSON error body. Content-Type must be exactly application/json: Composer prints the
 * `warning` of a 4xx body only then (COMPOSER-PROTOCOL.md §4.6). It is a Buffer because
 * Fastify appends `; charset=utf-8` to a JSON type when the payload is a string.
 */
function errorBody (statusCode: number, code: string, message: string): Buffer {
  const body: Record<string, string> = { code, message }
  // Composer shows `warning` on any 4xx; only auth failures deserve that prominence.
  if (statusCode === 401 || statusCode === 403) body.warning = message
  return Buffer.from(JSON.stringify(body))
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
  const metrics = config.metricsEnabled ? createMetrics({ authFailureReasons: Object.keys(AUTH_MESSAGES) }) : undefined
  if (metrics !== undefined) {
    observeHttp(app, metrics)
    app.addHook('onClose', async () => { metrics.close() })
  }

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
      // The basic-auth plugin's own error for a missing or malformed header.
      code = 'UNAUTHORIZED'
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
  if (metrics !== undefined) await app.register(metricsRoutes, { metrics, token: config.metricsToken })
  await app.register(composerRoutes, {
    config,
    keys: ctx.keys,
    catalog: ctx.catalog,
    store: ctx.store,
    onAuthFailure: metrics?.authFailure,
    onArchiveDownload: metrics?.archiveDownload
  })
  // With key reveal off, no encrypted private key stays in the database.
  if (!ctx.keys.revealEnabled) {
    const dropped = ctx.keys.forgetSealedCopies()
    if (dropped > 0) app.log.info({ dropped }, 'key reveal is off: dropped the encrypted copies of private keys')
  }
  // Failed logins (pages and JSON API share one count), in memory for this process.
  const throttle = createLoginThrottle()
  const accountDeps = { config, accounts: ctx.accounts, keys: ctx.keys, downloads: ctx.downloads, throttle }
  await app.register(accountPages, { prefix: '/account', ...accountDeps, sessions: ctx.sessions })
  await app.register(accountApi, { prefix: '/api/v1', ...accountDeps })
  await app.register(downloadsRoutes, { prefix: '/products/downloads', config, downloads: ctx.downloads })
  return app
}
