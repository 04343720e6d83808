import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import type { Config } from './config.js'
import { createContext } from './context.js'
import { classifyError, jsonErrorBody, sendJsonError } from './http/errors.js'
import { loggerOptions } from './logger.js'
import healthRoutes from './routes/health.js'
import composerRoutes, { AUTH_MESSAGES } from './routes/composer.js'
import metricsRoutes from './routes/metrics.js'
import { createMetrics, observeHttp } from './metrics.js'
import accountPages, { PAGES_AUTH_FAILURES } from './routes/account/index.js'
import accountApi, { API_AUTH_FAILURES } from './routes/account-api.js'
import downloadsRoutes, { DOWNLOADS_AUTH_FAILURES } from './routes/downloads.js'
import landingRoutes from './routes/landing.js'
import { createLoginThrottle } from './services/login-throttle.js'

export interface BuildOptions {
  /** Pino destination stream (tests capture the log); stdout when unset. */
  logStream?: NodeJS.WritableStream
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
  const metrics = config.metricsEnabled
    ? createMetrics({
      authFailureReasons: { composer: Object.keys(AUTH_MESSAGES), pages: PAGES_AUTH_FAILURES, api: API_AUTH_FAILURES, downloads: DOWNLOADS_AUTH_FAILURES }
    })
    : undefined
  if (metrics !== undefined) {
    observeHttp(app, metrics)
    app.addHook('onClose', async () => { metrics.close() })
  }

  // JSON for Composer and the API; /account and /products/downloads render the same classification their own way.
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const e = classifyError(err, { missingCredentials: AUTH_MESSAGES.missing })
    if (e.log) request.log.error({ err }, 'request failed')
    return sendJsonError(reply, e, config.realm)
  })
  app.setNotFoundHandler((request, reply) => {
    return reply.code(404).type('application/json').send(jsonErrorBody(404, 'NOT_FOUND', `No such URL: ${request.method} ${request.url.split('?')[0]}`))
  })

  await app.register(healthRoutes, { health: ctx.health })
  if (metrics !== undefined) await app.register(metricsRoutes, { metrics, token: config.metricsToken })
  await app.register(composerRoutes, {
    config,
    keys: ctx.keys,
    catalog: ctx.catalog,
    onAuthFailure: metrics === undefined ? undefined : (reason) => { metrics.authFailure('composer', reason) },
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
  const countAuthFailure = (surface: 'pages' | 'api' | 'downloads') =>
    metrics === undefined ? undefined : (reason: string) => { metrics.authFailure(surface, reason) }
  await app.register(landingRoutes, { config })
  await app.register(accountPages, { prefix: '/account', ...accountDeps, sessions: ctx.sessions, onAuthFailure: countAuthFailure('pages') })
  await app.register(accountApi, { prefix: '/api/v1', ...accountDeps, onAuthFailure: countAuthFailure('api') })
  await app.register(downloadsRoutes, { prefix: '/products/downloads', config, downloads: ctx.downloads, onAuthFailure: countAuthFailure('downloads') })
  return app
}
