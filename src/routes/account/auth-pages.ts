import type { FastifyInstance } from 'fastify'
import { isPackyardError } from '../../errors.js'
import { ACCOUNT_SUSPENDED, MIN_PASSWORD_LENGTH, type AccountService } from '../../services/accounts.js'
import { checkPasswordThrottled, type LoginThrottle } from '../../services/login-throttle.js'
import * as pages from '../../web/pages.js'
import { field, type PageKit } from './session.js'

/** The reasons a login on the pages fails, as counted by the auth-failure metric. */
export const PAGES_AUTH_FAILURES = ['wrong_password', 'throttled', 'suspended'] as const

export interface AuthPagesOptions {
  kit: PageKit
  accounts: AccountService
  throttle: LoginThrottle
  onAuthFailure?: ((reason: typeof PAGES_AUTH_FAILURES[number]) => void) | undefined
}

/**
 * Every failed login says how an account the operator created without a password gets one.
 * Said to everyone, it tells no one whether the account exists or has a password.
 */
export function wrongPasswordMessage (username: string): string {
  return 'Wrong username or password. If the operator created your account, it has no password for these pages until ' +
    `they set one with: packyard account password ${username === '' ? 'USERNAME' : username}`
}

/** Register, log in, log out. */
export default async function authPages (app: FastifyInstance, opts: AuthPagesOptions): Promise<void> {
  const { kit, accounts } = opts
  const minPassword = MIN_PASSWORD_LENGTH

  app.get('/', async (request, reply) => kit.redirect(reply, `/account/${request.principal === null ? 'login' : 'keys'}`))

  app.get('/register', async (request, reply) => {
    if (request.principal !== null) return kit.redirect(reply, '/account/keys')
    return kit.send(reply, pages.registerPage(kit.pageContext(request, reply), { minPassword }), kit.registrationOpen ? 200 : 403)
  })

  app.post('/register', {
    config: { anonymousForm: true, rateLimit: { max: 10, timeWindow: 15 * 60 * 1000 } }
  }, async (request, reply) => {
    const ctx = kit.pageContext(request, reply)
    if (!kit.registrationOpen) return kit.send(reply, pages.registerPage(ctx, { minPassword }), 403)
    const username = field(request, 'username').trim()
    const email = field(request, 'email').trim()
    const password = field(request, 'password')
    const again = (error: string, status: number) =>
      kit.send(reply, pages.registerPage(ctx, { username, email, error, minPassword }), status)
    if (password !== field(request, 'password2')) return again('The two passwords differ. Type the same password twice.', 400)
    let account
    try {
      account = await accounts.create({ username, email: email === '' ? undefined : email, password })
    } catch (err) {
      if (isPackyardError(err) && err.statusCode < 500) return again(err.message.replace(/^invalid/, 'Invalid'), err.statusCode)
      throw err
    }
    request.log.info({ account: account.username }, 'account registered')
    kit.startSession(request, reply, account.id, `Welcome, ${account.username}. Your MAGEID is ${account.mageId}. Create your first access key below.`)
    return kit.redirect(reply, '/account/keys')
  })

  app.get<{ Querystring: { next?: string, loggedOut?: string } }>('/login', async (request, reply) => {
    if (request.principal !== null) return kit.redirect(reply, '/account/keys')
    const ctx = kit.pageContext(request, reply)
    if (request.query.loggedOut !== undefined) ctx.flash = { kind: 'success', text: 'You have logged out.' }
    return kit.send(reply, pages.loginPage(ctx, { next: kit.nextOf(request.query.next) }))
  })

  app.post('/login', { config: { anonymousForm: true } }, async (request, reply) => {
    const username = field(request, 'username').trim()
    const next = kit.nextOf(field(request, 'next'))
    const again = (error: string, status: number) =>
      kit.send(reply, pages.loginPage(kit.pageContext(request, reply), { username, next, error }), status)
    const check = await checkPasswordThrottled(opts, {
      username, password: field(request, 'password'), address: request.ip, log: request.log, action: 'login'
    })
    if (!check.ok) {
      opts.onAuthFailure?.(check.reason)
      if (check.reason === 'throttled') {
        reply.header('retry-after', String(check.retryAfterSeconds))
        return again(check.message, 429)
      }
      return again(wrongPasswordMessage(username), 401)
    }
    if (check.account.disabledAt !== null) {
      opts.onAuthFailure?.('suspended')
      return again(ACCOUNT_SUSPENDED, 401)
    }
    request.log.info({ account: check.account.username }, 'logged in')
    kit.startSession(request, reply, check.account.id)
    return kit.redirect(reply, next ?? '/account/keys')
  })

  // Without a session there is nothing to forge: an expired session's logout just clears the cookie.
  app.post('/logout', { config: { harmlessWithoutSession: true } }, async (request, reply) => {
    kit.endSession(request, reply)
    return kit.redirect(reply, '/account/login?loggedOut=1')
  })
}
