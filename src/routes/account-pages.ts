import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifyFormbody from '@fastify/formbody'
import fastifyRateLimit from '@fastify/rate-limit'
import type { Config } from '../config.js'
import { errors, isPackyardError } from '../errors.js'
import type { AccessKey } from '../repositories/access-keys.js'
import type { AccessKeyService } from '../services/access-keys.js'
import { MIN_PASSWORD_LENGTH, type AccountService } from '../services/accounts.js'
import type { DownloadsService } from '../services/downloads.js'
import { loggableUsername, type LoginThrottle } from '../services/login-throttle.js'
import { csrfMatches, csrfTokenFor, isCookieSecret, newCookieSecret, type Flash, type Session, type SessionService } from '../services/sessions.js'
import { ASSETS } from '../web/assets.js'
import type { SafeHtml } from '../web/html.js'
import * as pages from '../web/pages.js'
import { baseUrlOf } from './composer.js'

export interface AccountPagesOptions {
  config: Config
  accounts: AccountService
  keys: AccessKeyService
  sessions: SessionService
  downloads: DownloadsService
  throttle: LoginThrottle
}

const SESSION_COOKIE = 'packyard_session'
/** Secret behind the forms of visitors not logged in yet (login, register). */
const FORM_COOKIE = 'packyard_form'
const CONTENT_SECURITY_POLICY = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
const CSRF_MESSAGE = 'This form has expired or did not come from this site. Go back, reload the page and try again.'
const NEXT_PATH = /^\/account\/[A-Za-z0-9/_-]*$/

type Body = Record<string, unknown> | undefined

function field (request: FastifyRequest, name: string): string {
  const value = (request.body as Body)?.[name]
  return typeof value === 'string' ? value : ''
}

/** The path prefix of the public URL (a repository served under https://host/repo). */
function basePath (publicUrl: string | undefined): string {
  return publicUrl === undefined ? '' : new URL(publicUrl).pathname.replace(/\/+$/, '')
}

const TITLES: Record<number, string> = {
  400: 'Check your input',
  403: 'Not allowed',
  404: 'Not found',
  409: 'That did not work',
  413: 'Too large',
  429: 'Too many attempts'
}

/**
 * The account holder's web pages under /account: register, log in and out, Access Keys,
 * and the Downloads Access Token. Server-rendered HTML, a session cookie, a form token on
 * every POST, and HTML error pages (this context's own error and not-found handlers).
 */
export default async function accountPages (app: FastifyInstance, opts: AccountPagesOptions): Promise<void> {
  const { config, accounts, keys, sessions, downloads, throttle } = opts
  const base = basePath(config.publicUrl)
  const cookiePath = `${base}/account`
  const sessionOf = new WeakMap<FastifyRequest, Session | null>()

  await app.register(fastifyCookie)
  await app.register(fastifyFormbody, { bodyLimit: 16 * 1024 })
  await app.register(fastifyRateLimit, { global: false })

  const cookieOptions = (request: FastifyRequest) =>
    ({ path: cookiePath, httpOnly: true, sameSite: 'lax', secure: request.protocol === 'https' }) as const

  app.addHook('onRequest', async (request) => {
    // Static assets need no session (and no database read).
    if (request.url.startsWith('/account/assets/')) return
    sessionOf.set(request, sessions.resolve(request.cookies[SESSION_COOKIE]) ?? null)
  })

  const current = (request: FastifyRequest): Session | null => sessionOf.get(request) ?? null

  /** The anonymous form secret, set as a cookie on first need. */
  function formSecret (request: FastifyRequest, reply: FastifyReply): string {
    const existing = request.cookies[FORM_COOKIE]
    if (isCookieSecret(existing)) return existing
    const secret = newCookieSecret()
    reply.setCookie(FORM_COOKIE, secret, { ...cookieOptions(request), maxAge: 24 * 60 * 60 })
    return secret
  }

  // Authenticated forms carry a token bound to the session; only login and register,
  // which have no session yet, fall back to the anonymous form cookie.
  app.addHook('preHandler', async (request) => {
    if (request.method !== 'POST') return
    const session = current(request)
    const routeConfig = request.routeOptions.config as { anonymousForm?: boolean, harmlessWithoutSession?: boolean }
    if (session === null && routeConfig.harmlessWithoutSession === true) return
    const anonymousForm = routeConfig.anonymousForm === true
    const secret = session !== null && !anonymousForm ? session.secret : request.cookies[FORM_COOKIE]
    if (!isCookieSecret(secret) || !csrfMatches(secret, (request.body as Body)?._csrf)) {
      request.log.info({ url: request.url }, 'form rejected: missing or wrong form token')
      throw errors.forbidden(CSRF_MESSAGE)
    }
  })

  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY)
    reply.header('x-content-type-options', 'nosniff')
    reply.header('x-frame-options', 'DENY')
    reply.header('referrer-policy', 'same-origin')
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
    return payload
  })

  function pageContext (request: FastifyRequest, reply: FastifyReply): pages.PageContext {
    const session = current(request)
    const account = session === null ? undefined : accounts.findById(session.accountId)
    return {
      base,
      csrf: csrfTokenFor(session === null ? formSecret(request, reply) : session.secret),
      account: account === undefined ? null : { username: account.username, mageId: account.mageId },
      flash: session === null ? null : sessions.takeFlash(session),
      registrationOpen: config.registrationOpen
    }
  }

  const send = (reply: FastifyReply, doc: SafeHtml, status = 200): FastifyReply =>
    reply.code(status).type('text/html; charset=utf-8').send(doc.value)

  app.setErrorHandler((err: FastifyError, request, reply) => {
    let status = err.statusCode ?? 500
    let message = err.message
    if (isPackyardError(err)) {
      status = err.statusCode
    } else if (err.validation !== undefined) {
      status = 400
    } else if (status === 429) {
      message = 'Too many attempts from your address. Wait a few minutes and try again.'
    } else if (status === 413) {
      message = 'The form was too large.'
    } else if (status < 400 || status >= 500) {
      request.log.error({ err }, 'page failed')
      status = 500
      message = 'Something went wrong on our side. Try again in a moment.'
    }
    const ctx: pages.PageContext = { base, csrf: '', account: null, flash: null, registrationOpen: config.registrationOpen }
    try {
      Object.assign(ctx, pageContext(request, reply))
    } catch (e) {
      request.log.error({ err: e }, 'could not build the error page context')
    }
    return send(reply, pages.errorPage(ctx, status, TITLES[status] ?? 'Something went wrong', message), status)
  })
  app.setNotFoundHandler((request, reply) =>
    send(reply, pages.errorPage(pageContext(request, reply), 404, 'Not found', 'There is no such page.'), 404))

  app.get<{ Params: { file: string } }>('/assets/:file', async (request, reply) => {
    const asset = Object.hasOwn(ASSETS, request.params.file) ? ASSETS[request.params.file] : undefined
    if (asset === undefined) throw errors.notFound(`asset ${request.params.file}`)
    reply.header('cache-control', 'public, max-age=86400')
    reply.header('etag', `"${asset.version}"`)
    if (request.headers['if-none-match'] === `"${asset.version}"`) return reply.code(304).send()
    return reply.type(asset.type).send(asset.body)
  })

  app.get('/', async (request, reply) => reply.redirect(`${base}/account/${current(request) === null ? 'login' : 'keys'}`, 303))

  // --- register, log in, log out ------------------------------------------------------------

  app.get('/register', async (request, reply) => {
    if (current(request) !== null) return reply.redirect(`${base}/account/keys`, 303)
    const status = config.registrationOpen ? 200 : 403
    return send(reply, pages.registerPage(pageContext(request, reply), { minPassword: MIN_PASSWORD_LENGTH }), status)
  })

  app.post('/register', {
    config: { anonymousForm: true, rateLimit: { max: 10, timeWindow: 15 * 60 * 1000 } }
  }, async (request, reply) => {
    const ctx = pageContext(request, reply)
    if (!config.registrationOpen) return send(reply, pages.registerPage(ctx, { minPassword: MIN_PASSWORD_LENGTH }), 403)
    const username = field(request, 'username').trim()
    const email = field(request, 'email').trim()
    const password = field(request, 'password')
    const again = (error: string, status: number) =>
      send(reply, pages.registerPage(ctx, { username, email, error, minPassword: MIN_PASSWORD_LENGTH }), status)
    if (password !== field(request, 'password2')) return again('The two passwords differ. Type the same password twice.', 400)
    let account
    try {
      account = await accounts.create({ username, email: email === '' ? undefined : email, password })
    } catch (err) {
      if (isPackyardError(err) && err.statusCode < 500) return again(err.message.replace(/^invalid/, 'Invalid'), err.statusCode)
      throw err
    }
    request.log.info({ account: account.username }, 'account registered')
    startSession(request, reply, account.id, `Welcome, ${account.username}. Your MAGEID is ${account.mageId}. Create your first access key below.`)
    return reply.redirect(`${base}/account/keys`, 303)
  })

  function startSession (request: FastifyRequest, reply: FastifyReply, accountId: number, welcome?: string): void {
    // A fresh id at every login: a session id planted before login is worth nothing.
    const secret = sessions.create(accountId)
    reply.setCookie(SESSION_COOKIE, secret, cookieOptions(request))
    reply.clearCookie(FORM_COOKIE, { path: cookiePath })
    if (welcome !== undefined) sessions.setFlash({ accountId, secret, flash: null }, { kind: 'success', text: welcome })
  }

  const nextOf = (value: unknown): string | undefined =>
    typeof value === 'string' && NEXT_PATH.test(value) && !value.startsWith('/account/login') ? value : undefined

  app.get<{ Querystring: { next?: string, loggedOut?: string } }>('/login', async (request, reply) => {
    if (current(request) !== null) return reply.redirect(`${base}/account/keys`, 303)
    const ctx = pageContext(request, reply)
    if (request.query.loggedOut !== undefined) ctx.flash = { kind: 'success', text: 'You have logged out.' }
    return send(reply, pages.loginPage(ctx, { next: nextOf(request.query.next) }))
  })

  app.post('/login', { config: { anonymousForm: true } }, async (request, reply) => {
    const username = field(request, 'username').trim()
    const password = field(request, 'password')
    const next = nextOf(field(request, 'next'))
    const again = (error: string, status: number) =>
      send(reply, pages.loginPage(pageContext(request, reply), { username, next, error }), status)
    const outcome = await throttle.attempt(username, request.ip, async () => await accounts.checkPassword(username, password))
    if (outcome.throttled) {
      request.log.info({ account: loggableUsername(accounts, username), ip: request.ip }, 'login throttled')
      reply.header('retry-after', String(outcome.retryAfterSeconds))
      return again(`Too many failed attempts. Wait ${outcome.retryAfterSeconds} seconds and try again.`, 429)
    }
    const account = outcome.value
    if (account === undefined) {
      request.log.info({ account: loggableUsername(accounts, username), ip: request.ip }, 'login failed')
      return again('Wrong username or password.', 401)
    }
    request.log.info({ account: account.username }, 'logged in')
    startSession(request, reply, account.id)
    return reply.redirect(`${base}${next ?? '/account/keys'}`, 303)
  })

  // Without a session there is nothing to forge: an expired session's logout just clears the cookie.
  app.post('/logout', { config: { harmlessWithoutSession: true } }, async (request, reply) => {
    const session = current(request)
    if (session !== null) sessions.destroy(session)
    reply.clearCookie(SESSION_COOKIE, { path: cookiePath })
    return reply.redirect(`${base}/account/login?loggedOut=1`, 303)
  })

  // --- pages that need a session ---------------------------------------------------------

  await app.register(async (authed) => {
    authed.addHook('preHandler', async (request, reply) => {
      if (current(request) !== null) return
      const next = request.method === 'GET' ? nextOf(request.url.split('?')[0]) : undefined
      return reply.redirect(`${base}/account/login${next === undefined ? '' : `?next=${encodeURIComponent(next)}`}`, 303)
    })

    const sessionFor = (request: FastifyRequest): Session => current(request)!
    const flashAndBack = (request: FastifyRequest, reply: FastifyReply, flash: Flash) => {
      sessions.setFlash(sessionFor(request), flash)
      return reply.redirect(`${base}/account/keys`, 303)
    }
    const host = (request: FastifyRequest): string => new URL(baseUrlOf(config, request)).host
    const keysPage = (request: FastifyRequest, reply: FastifyReply, extra: { issued?: pages.IssuedView, nameValue?: string, flash?: Flash } = {}) => {
      const ctx = pageContext(request, reply)
      if (extra.flash !== undefined) ctx.flash = extra.flash
      return pages.keysPage(ctx, { keys: keys.list(sessionFor(request).accountId), revealEnabled: keys.revealEnabled, host: host(request), ...extra })
    }
    const usernameOf = (request: FastifyRequest): string => accounts.findById(sessionFor(request).accountId)?.username ?? ''
    /** The key named in the URL when it belongs to this account; 404 otherwise. */
    const ownKey = (request: FastifyRequest<{ Params: { publicKey: string } }>): AccessKey =>
      keys.getOwned(sessionFor(request).accountId, request.params.publicKey)

    /** Runs a key action; form mistakes (400/409) come back as a message on the keys page. */
    const keyAction = (run: (request: FastifyRequest<{ Params: { publicKey: string } }>, key: AccessKey) => Flash) =>
      async (request: FastifyRequest<{ Params: { publicKey: string } }>, reply: FastifyReply) => {
        const key = ownKey(request)
        let flash: Flash
        try {
          flash = run(request, key)
        } catch (err) {
          if (isPackyardError(err) && err.statusCode < 500 && err.statusCode !== 404) flash = { kind: 'error', text: err.message }
          else throw err
        }
        return flashAndBack(request, reply, flash)
      }

    authed.get('/keys', async (request, reply) => send(reply, keysPage(request, reply)))

    authed.post('/keys', async (request, reply) => {
      const name = field(request, 'name')
      try {
        const issued = keys.create(sessionFor(request).accountId, name)
        request.log.info({ account: usernameOf(request), key: issued.key.name }, 'access key created')
        return send(reply, keysPage(request, reply, {
          issued: { ...issued, regenerated: false },
          flash: { kind: 'success', text: `Created the access key “${issued.key.name}”.` }
        }))
      } catch (err) {
        if (!isPackyardError(err) || err.statusCode >= 500) throw err
        return send(reply, keysPage(request, reply, { nameValue: name, flash: { kind: 'error', text: err.message.replace(/^invalid/, 'Invalid') } }), err.statusCode)
      }
    })

    authed.post<{ Params: { publicKey: string } }>('/keys/:publicKey/rename', keyAction((request, key) => {
      const renamed = keys.rename(key.publicKey, field(request, 'name'))
      request.log.info({ account: usernameOf(request), key: renamed.name, previousName: key.name }, 'access key renamed')
      return { kind: 'success', text: `Renamed “${key.name}” to “${renamed.name}”.` }
    }))

    for (const [verb, enabled] of [['disable', false], ['enable', true]] as const) {
      authed.post<{ Params: { publicKey: string } }>(`/keys/:publicKey/${verb}`, keyAction((request, key) => {
        keys.setEnabled(key.publicKey, enabled)
        request.log.info({ account: usernameOf(request), key: key.name }, `access key ${verb}d`)
        return enabled
          ? { kind: 'success', text: `Enabled “${key.name}”. Composer accepts it again from the next request.` }
          : { kind: 'success', text: `Disabled “${key.name}”. Composer requests with it now fail until you enable it again.` }
      }))
    }

    authed.get<{ Params: { publicKey: string } }>('/keys/:publicKey/regenerate', async (request, reply) => {
      const key = ownKey(request)
      return send(reply, pages.confirmPage(pageContext(request, reply), {
        title: 'Regenerate this key?',
        key,
        text: 'You get a new public and private key. The current pair stops working at once: every auth.json and CI secret that uses it must be updated.',
        action: `${base}/account/keys/${key.publicKey}/regenerate`,
        button: 'Regenerate key',
        danger: false
      }))
    })

    authed.post<{ Params: { publicKey: string } }>('/keys/:publicKey/regenerate', async (request, reply) => {
      const key = ownKey(request)
      const issued = keys.regenerate(key.publicKey)
      request.log.info({ account: usernameOf(request), key: key.name }, 'access key regenerated')
      return send(reply, keysPage(request, reply, {
        issued: { ...issued, regenerated: true },
        flash: { kind: 'success', text: `Regenerated “${key.name}”. The old pair no longer works.` }
      }))
    })

    authed.get<{ Params: { publicKey: string } }>('/keys/:publicKey/delete', async (request, reply) => {
      const key = ownKey(request)
      return send(reply, pages.confirmPage(pageContext(request, reply), {
        title: 'Delete this key?',
        key,
        text: 'Composer requests with this key fail from now on. This cannot be undone.',
        action: `${base}/account/keys/${key.publicKey}/delete`,
        button: 'Delete key',
        danger: true
      }))
    })

    authed.post<{ Params: { publicKey: string } }>('/keys/:publicKey/delete', keyAction((request, key) => {
      keys.delete(key.publicKey)
      request.log.info({ account: usernameOf(request), key: key.name }, 'access key deleted')
      return { kind: 'success', text: `Deleted “${key.name}”.` }
    }))

    const revealable = (request: FastifyRequest<{ Params: { publicKey: string } }>): AccessKey => {
      if (!keys.revealEnabled) throw errors.notFound('page')
      const key = ownKey(request)
      if (!key.revealable) throw errors.conflict('No viewable copy of this key is stored (it was created before key viewing was turned on). Regenerate it to get a new pair.')
      return key
    }

    authed.get<{ Params: { publicKey: string } }>('/keys/:publicKey/reveal', async (request, reply) =>
      send(reply, pages.revealPage(pageContext(request, reply), { key: revealable(request) })))

    authed.post<{ Params: { publicKey: string } }>('/keys/:publicKey/reveal', async (request, reply) => {
      const key = revealable(request)
      const username = usernameOf(request)
      const again = (error: string, status: number) => send(reply, pages.revealPage(pageContext(request, reply), { key, error }), status)
      const outcome = await throttle.attempt(username, request.ip, async () => await accounts.checkPassword(username, field(request, 'password')))
      if (outcome.throttled) {
        request.log.info({ account: username, key: key.name, ip: request.ip }, 'key reveal throttled')
        reply.header('retry-after', String(outcome.retryAfterSeconds))
        return again(`Too many failed attempts. Wait ${outcome.retryAfterSeconds} seconds and try again.`, 429)
      }
      if (outcome.value === undefined) {
        request.log.info({ account: username, key: key.name }, 'key reveal refused: wrong password')
        return again('Wrong password.', 401)
      }
      const privateKey = keys.reveal(sessionFor(request).accountId, key.publicKey)
      request.log.info({ account: username, key: key.name }, 'access key viewed')
      return send(reply, pages.revealPage(pageContext(request, reply), { key, privateKey }))
    })

    authed.get('/downloads-token', async (request, reply) => {
      const ctx = pageContext(request, reply)
      const accountId = sessionFor(request).accountId
      return send(reply, pages.downloadsTokenPage(ctx, { mageId: ctx.account!.mageId, createdAt: downloads.tokenCreatedAt(accountId), baseUrl: baseUrlOf(config, request) }))
    })

    authed.post('/downloads-token', async (request, reply) => {
      const ctx = pageContext(request, reply)
      const { token, createdAt } = downloads.regenerateToken(sessionFor(request).accountId)
      request.log.info({ account: ctx.account!.username }, 'downloads token generated')
      ctx.flash = { kind: 'success', text: 'Generated a new Downloads Access Token. The previous token no longer works.' }
      return send(reply, pages.downloadsTokenPage(ctx, { mageId: ctx.account!.mageId, createdAt, token, baseUrl: baseUrlOf(config, request) }))
    })
  })
}
