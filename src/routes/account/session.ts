import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../../config.js'
import { errors } from '../../errors.js'
import type { AccountService } from '../../services/accounts.js'
import { csrfMatches, csrfTokenFor, isCookieSecret, newCookieSecret, type SessionService } from '../../services/sessions.js'
import type { SafeHtml } from '../../web/html.js'
import type { PageContext } from '../../web/pages.js'

export const SESSION_COOKIE = 'packyard_session'
/** Secret behind the forms of visitors not logged in yet (login, register). */
const FORM_COOKIE = 'packyard_form'
const CONTENT_SECURITY_POLICY = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
const CSRF_MESSAGE = 'This form has expired or did not come from this site. Go back, reload the page and try again.'
const NEXT_PATH = /^\/account\/[A-Za-z0-9/_-]*$/

type Body = Record<string, unknown> | undefined

/** A form field as a string ('' when absent). */
export function field (request: FastifyRequest, name: string): string {
  const value = (request.body as Body)?.[name]
  return typeof value === 'string' ? value : ''
}

/** The path prefix of the public URL (a repository served under https://host/repo). */
export function basePath (publicUrl: string | undefined): string {
  return publicUrl === undefined ? '' : new URL(publicUrl).pathname.replace(/\/+$/, '')
}

/** The headers every HTML page of this server carries (an onSend hook). */
export async function securityHeaders (_request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  reply.header('content-security-policy', CONTENT_SECURITY_POLICY)
  reply.header('x-content-type-options', 'nosniff')
  reply.header('x-frame-options', 'DENY')
  reply.header('referrer-policy', 'same-origin')
  if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
  return payload
}

export interface PageKitDeps {
  config: Config
  accounts: AccountService
  sessions: SessionService
}

/**
 * What the account page plugins share: links under the public path prefix, the page
 * context (form token, signed-in account, flash), sending a page, starting a session.
 */
export function createPageKit ({ config, accounts, sessions }: PageKitDeps) {
  const base = basePath(config.publicUrl)
  const cookiePath = `${base}/account`
  const cookieOptions = (request: FastifyRequest) =>
    ({ path: cookiePath, httpOnly: true, sameSite: 'lax', secure: request.protocol === 'https' }) as const

  /** The anonymous form secret, set as a cookie on first need. */
  function formSecret (request: FastifyRequest, reply: FastifyReply): string {
    const existing = request.cookies[FORM_COOKIE]
    if (isCookieSecret(existing)) return existing
    const secret = newCookieSecret()
    reply.setCookie(FORM_COOKIE, secret, { ...cookieOptions(request), maxAge: 24 * 60 * 60 })
    return secret
  }

  const nextOf = (value: unknown): string | undefined =>
    typeof value === 'string' && NEXT_PATH.test(value) && !value.startsWith('/account/login') ? value : undefined

  return {
    base,
    cookiePath,
    registrationOpen: config.registrationOpen,
    nextOf,
    pageContext (request: FastifyRequest, reply: FastifyReply): PageContext {
      const session = request.session ?? null
      const account = request.principal === null ? undefined : accounts.findById(request.principal.accountId)
      return {
        base,
        csrf: csrfTokenFor(session === null ? formSecret(request, reply) : session.secret),
        account: account === undefined ? null : { username: account.username, mageId: account.mageId },
        flash: session === null ? null : sessions.takeFlash(session),
        registrationOpen: config.registrationOpen
      }
    },
    send (reply: FastifyReply, doc: SafeHtml, status = 200): FastifyReply {
      return reply.code(status).type('text/html; charset=utf-8').send(doc.value)
    },
    redirect (reply: FastifyReply, path: string): FastifyReply {
      return reply.redirect(`${base}${path}`, 303)
    },
    startSession (request: FastifyRequest, reply: FastifyReply, accountId: number, welcome?: string): void {
      // A fresh id at every login: a session id planted before login is worth nothing.
      const secret = sessions.create(accountId)
      reply.setCookie(SESSION_COOKIE, secret, cookieOptions(request))
      reply.clearCookie(FORM_COOKIE, { path: cookiePath })
      if (welcome !== undefined) sessions.setFlash({ accountId, secret, flash: null }, { kind: 'success', text: welcome })
    },
    endSession (request: FastifyRequest, reply: FastifyReply): void {
      const session = request.session ?? null
      if (session !== null) sessions.destroy(session)
      reply.clearCookie(SESSION_COOKIE, { path: cookiePath })
    },
    /** A preHandler for pages that need a session: without one, to the login page and back. */
    async requireSession (request: FastifyRequest, reply: FastifyReply): Promise<void> {
      if (request.principal !== null) return
      const next = request.method === 'GET' ? nextOf(request.url.split('?')[0]) : undefined
      return reply.redirect(`${base}/account/login${next === undefined ? '' : `?next=${encodeURIComponent(next)}`}`, 303)
    },
    /** The signed-in account's id (under requireSession). */
    accountIdOf (request: FastifyRequest): number {
      return request.principal!.accountId
    },
    usernameOf (request: FastifyRequest): string {
      return accounts.findById(request.principal!.accountId)?.username ?? ''
    }
  }
}

export type PageKit = ReturnType<typeof createPageKit>

/**
 * Resolves the session cookie into `request.session` and `request.principal`, and checks
 * the form token of every POST. Wrapped with fastify-plugin: every page plugin of the
 * /account context must see the decorator and the hooks (assets are registered before).
 */
export const accountSession = fp(async (app: FastifyInstance, opts: { sessions: SessionService }) => {
  const { sessions } = opts
  app.decorateRequest('session', null)

  app.addHook('onRequest', async (request) => {
    const session = sessions.resolve(request.cookies[SESSION_COOKIE]) ?? null
    request.session = session
    if (session !== null) request.principal = { accountId: session.accountId, via: 'session' }
  })

  // Authenticated forms carry a token bound to the session; only login and register,
  // which have no session yet, fall back to the anonymous form cookie.
  app.addHook('preHandler', async (request) => {
    if (request.method !== 'POST') return
    const session = request.session
    const routeConfig = request.routeOptions.config as { anonymousForm?: boolean, harmlessWithoutSession?: boolean }
    if (session === null && routeConfig.harmlessWithoutSession === true) return
    const anonymousForm = routeConfig.anonymousForm === true
    const secret = session !== null && !anonymousForm ? session.secret : request.cookies[FORM_COOKIE]
    if (!isCookieSecret(secret) || !csrfMatches(secret, (request.body as Body)?._csrf)) {
      request.log.info({ url: request.url }, 'form rejected: missing or wrong form token')
      throw errors.forbidden(CSRF_MESSAGE)
    }
  })
}, { name: 'packyard-account-session' })
