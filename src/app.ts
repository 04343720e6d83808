import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify'
import { createServer } from 'node:http'
import type { Config } from './config.js'
import { createContext } from './context.js'
import { classifyError, jsonErrorBody, sendJsonError } from './http/errors.js'
import { accessLogHook, createAccessLog, loggerOptions } from './logger.js'
import { createLogSink } from './log-sink.js'
import healthRoutes from './routes/health.js'
import composerRoutes, { AUTH_MESSAGES } from './routes/composer.js'
import { createComposerFastLane, type FastLane } from './routes/composer-fast-lane.js'
import metricsRoutes from './routes/metrics.js'
import { createMetrics, observeHttp } from './metrics.js'
import accountPages, { PAGES_AUTH_FAILURES } from './routes/account/index.js'
import accountApi, { API_AUTH_FAILURES } from './routes/account-api.js'
import downloadsRoutes, { DOWNLOADS_AUTH_FAILURES } from './routes/downloads.js'
import landingRoutes from './routes/landing.js'
import publishApi from './routes/publish-api.js'
import adminWebhooks from './routes/admin-webhooks.js'
import adminCatalog from './routes/admin-catalog.js'
import adminAccounts from './routes/admin-accounts.js'
import adminUpstreams from './routes/admin-upstreams.js'
import { createApiAuth } from './routes/api-auth.js'
import type { WebhookWorker } from './services/webhook-delivery.js'
import { createLoginThrottle } from './services/login-throttle.js'
import { createKeyThrottle } from './services/key-throttle.js'

export interface BuildOptions {
  /** Pino destination stream (tests capture the log); stdout when unset. */
  logStream?: NodeJS.WritableStream
}

/** The composition root: one database, its services, and the HTTP routes, wired in order. */
export async function buildApp (config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const ctx = createContext(config)
  // stdout through one buffered, asynchronous sink (log-sink.ts): a log line is a buffer
  // append; the buffer is written at most 25 ms later in one write, and synchronously at exit.
  const stdout = options.logStream === undefined ? createLogSink(1) : undefined
  const logStream = options.logStream ?? stdout!
  const accessLog = createAccessLog(config.logLevel, logStream)
  // The Composer metadata hot path answers on node:http before Fastify (routes/composer-fast-lane.ts);
  // it is set once the services exist, and app.inject never reaches it.
  let fastLane: FastLane = () => false
  const app = Fastify({
    logger: { ...loggerOptions(config.logLevel), stream: logStream },
    serverFactory: (handler) => createServer({ keepAliveTimeout: 72_000 }, (req, res) => {
      let answered = false
      try {
        answered = fastLane(req, res)
      } catch {
        // Fastify meets the same failure again and answers it properly (logged, 500).
        if (res.headersSent) return res.destroy()
      }
      if (!answered) handler(req, res)
    }),
    // One access line per request (accessLogHook below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: config.trustProxy,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 300 },
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { code: { optimize: false } } }
  })
  if (stdout !== undefined) app.addHook('onClose', async () => { stdout.flushSync() })
  accessLogHook(app, accessLog)
  app.decorate('ctx', ctx)
  app.decorateRequest('principal', null)
  app.decorateRequest('operator', null)
  // The webhook worker sends the outbox (whichever process wrote it) while the server runs,
  // and stops before the database closes.
  let webhookWorker: WebhookWorker | undefined
  app.addHook('onReady', async () => {
    webhookWorker = ctx.webhooks.startWorker({
      log: app.log,
      pollMs: config.webhookPollMs,
      timeoutMs: config.webhookTimeoutMs,
      backoffMs: config.webhookBackoffMs,
      maxAttempts: config.webhookMaxAttempts
    })
  })
  app.addHook('onClose', async () => {
    await webhookWorker?.stop()
    ctx.close()
  })
  const metrics = config.metricsEnabled
    ? createMetrics({
      authFailureReasons: { composer: Object.keys(AUTH_MESSAGES), pages: PAGES_AUTH_FAILURES, api: API_AUTH_FAILURES, downloads: DOWNLOADS_AUTH_FAILURES }
    })
    : undefined
  ctx.mirror.setLog((msg, detail) => { app.log.warn(detail, msg) })
  if (metrics !== undefined) {
    metrics.observeMirror(ctx.mirror.stats)
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
  // Failed access-key checks per (key, address) and per address, in memory for this process.
  const keyThrottle = createKeyThrottle({ windowMs: config.keyThrottleWindowMs })
  fastLane = createComposerFastLane({ config, keys: ctx.keys, catalog: ctx.catalog, throttle: keyThrottle, accessLog, series: metrics?.requestSeries })
  await app.register(composerRoutes, {
    config,
    keys: ctx.keys,
    catalog: ctx.catalog,
    advisories: ctx.advisories,
    throttle: keyThrottle,
    onAuthFailure: metrics === undefined ? undefined : (reason) => { metrics.authFailure('composer', reason) },
    onThrottled: metrics === undefined ? undefined : () => { metrics.throttled('composer') },
    onArchiveDownload: metrics?.archiveDownload,
    mirror: ctx.mirror
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
  await app.register(accountPages, { prefix: '/account', ...accountDeps, sessions: ctx.sessions, catalog: ctx.catalog, onAuthFailure: countAuthFailure('pages') })
  await app.register(accountApi, { prefix: '/api/v1', ...accountDeps, onAuthFailure: countAuthFailure('api') })
  await app.register(downloadsRoutes, { prefix: '/products/downloads', config, downloads: ctx.downloads, onAuthFailure: countAuthFailure('downloads') })
  // Publishing over HTTP with operator API tokens (never access keys or passwords).
  await app.register(publishApi, { config, catalog: ctx.catalog, apiTokens: ctx.apiTokens })
  // Every operator route below needs an admin API token.
  const adminOnly = createApiAuth({ tokens: ctx.apiTokens, realm: config.realm }).requireScope('admin')
  await app.register(adminWebhooks, {
    prefix: '/api/v1/admin/webhooks',
    webhooks: ctx.webhooks,
    authorize: adminOnly
  })
  // Customers (accounts, keys, suspension) for the operator, with an admin API token.
  await app.register(adminAccounts, {
    prefix: '/api/v1/admin',
    accounts: ctx.accounts,
    keys: ctx.keys,
    sessions: ctx.sessions,
    authorize: adminOnly
  })
  // Grants with licence rules, packages (access, abandoned, yank) and advisories for the operator.
  await app.register(adminCatalog, {
    prefix: '/api/v1/admin',
    catalog: ctx.catalog,
    grants: ctx.grants,
    advisories: ctx.advisories,
    authorize: adminOnly
  })
  // Mirrored upstreams (the `packyard upstream` commands) for the operator, with an admin API token.
  await app.register(adminUpstreams, { prefix: '/api/v1/admin', mirror: ctx.mirror, authorize: adminOnly })
  return app
}
