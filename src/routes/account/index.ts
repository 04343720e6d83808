import type { FastifyError, FastifyInstance } from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifyFormbody from '@fastify/formbody'
import fastifyRateLimit from '@fastify/rate-limit'
import type { Config } from '../../config.js'
import { classifyError } from '../../http/errors.js'
import type { AccessKeyService } from '../../services/access-keys.js'
import type { AccountService } from '../../services/accounts.js'
import type { CatalogService } from '../../services/catalog.js'
import type { DownloadsService } from '../../services/downloads.js'
import type { LoginThrottle } from '../../services/login-throttle.js'
import type { SessionService } from '../../services/sessions.js'
import * as pages from '../../web/pages.js'
import accountAssets from './assets.js'
import authPages, { PAGES_AUTH_FAILURES } from './auth-pages.js'
import keysPages from './keys-pages.js'
import passwordPage from './password-page.js'
import { accountSession, createPageKit, securityHeaders } from './session.js'
import tokenPage from './token-page.js'
import packagesPage from './packages-page.js'

export { PAGES_AUTH_FAILURES }

export interface AccountPagesOptions {
  config: Config
  accounts: AccountService
  keys: AccessKeyService
  sessions: SessionService
  downloads: DownloadsService
  /** What the account can install ("My packages"). */
  catalog: CatalogService
  throttle: LoginThrottle
  onAuthFailure?: ((reason: typeof PAGES_AUTH_FAILURES[number]) => void) | undefined
}

/**
 * The account holder's web pages under /account: server-rendered HTML, a session cookie,
 * a form token on every POST, and HTML error pages. Order matters: the security headers
 * and error handlers first, the assets before the session hook, then the pages.
 */
export default async function accountPages (app: FastifyInstance, opts: AccountPagesOptions): Promise<void> {
  const { config, accounts, sessions, throttle } = opts
  const kit = createPageKit({ config, accounts, sessions })

  await app.register(fastifyCookie)
  await app.register(fastifyFormbody, { bodyLimit: 16 * 1024 })
  await app.register(fastifyRateLimit, { global: false })
  app.addHook('onSend', securityHeaders)

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const e = classifyError(err, { missingCredentials: err.message })
    if (e.log) request.log.error({ err }, 'page failed')
    let ctx: pages.PageContext = { base: kit.base, csrf: '', account: null, flash: null, registrationOpen: config.registrationOpen }
    try {
      ctx = kit.pageContext(request, reply)
    } catch (ctxErr) {
      request.log.error({ err: ctxErr }, 'could not build the error page context')
    }
    return kit.send(reply, pages.errorPageFor(ctx, e), e.status)
  })
  app.setNotFoundHandler((request, reply) =>
    kit.send(reply, pages.errorPage(kit.pageContext(request, reply), 404, 'Not found', 'There is no such page.'), 404))

  await app.register(accountAssets)
  await app.register(accountSession, { sessions })
  await app.register(authPages, { kit, accounts, throttle, onAuthFailure: opts.onAuthFailure })
  await app.register(keysPages, { kit, config, accounts, keys: opts.keys, sessions, throttle })
  await app.register(packagesPage, { kit, catalog: opts.catalog })
  await app.register(tokenPage, { kit, config, downloads: opts.downloads })
  await app.register(passwordPage, { kit, accounts, sessions, throttle })
}
