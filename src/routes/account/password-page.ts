import type { FastifyInstance } from 'fastify'
import { isPackyardError } from '../../errors.js'
import { MIN_PASSWORD_LENGTH, type AccountService } from '../../services/accounts.js'
import { checkPasswordThrottled, type LoginThrottle } from '../../services/login-throttle.js'
import type { SessionService } from '../../services/sessions.js'
import * as pages from '../../web/pages.js'
import { field, type PageKit } from './session.js'

export interface PasswordPageOptions {
  kit: PageKit
  accounts: AccountService
  sessions: SessionService
  throttle: LoginThrottle
}

/**
 * Change the password: the current one is checked (throttled like the login), and every
 * other session of the account ends. This one continues under a fresh session id.
 */
export default async function passwordPage (app: FastifyInstance, opts: PasswordPageOptions): Promise<void> {
  const { kit, accounts, sessions } = opts
  const minPassword = MIN_PASSWORD_LENGTH
  app.addHook('preHandler', kit.requireSession)

  app.get('/password', async (request, reply) =>
    kit.send(reply, pages.passwordPage(kit.pageContext(request, reply), { minPassword })))

  app.post('/password', async (request, reply) => {
    const username = kit.usernameOf(request)
    const password = field(request, 'password')
    const again = (error: string, status: number) =>
      kit.send(reply, pages.passwordPage(kit.pageContext(request, reply), { minPassword, error }), status)
    if (password !== field(request, 'password2')) return again('The two new passwords differ. Type the same new password twice.', 400)
    const check = await checkPasswordThrottled(opts, {
      username, password: field(request, 'current'), address: request.ip, log: request.log, action: 'password change'
    })
    if (!check.ok) {
      if (check.reason !== 'throttled') return again('Wrong current password.', 401)
      reply.header('retry-after', String(check.retryAfterSeconds))
      return again(check.message, 429)
    }
    try {
      await accounts.setPassword(username, password)
    } catch (err) {
      if (isPackyardError(err) && err.statusCode < 500) return again(err.message.replace(/^password/, 'Password'), err.statusCode)
      throw err
    }
    // Every session ends, then this browser gets a new one: the old id is worth nothing either.
    const ended = Math.max(0, sessions.destroyAll(check.account.id) - 1)
    kit.startSession(request, reply, check.account.id,
      `Your password has been changed. ${ended === 1 ? '1 other session was' : `${ended} other sessions were`} signed out; this one stays signed in.`)
    request.log.info({ account: check.account.username, otherSessionsEnded: ended }, 'password changed')
    return kit.redirect(reply, '/account/password')
  })
}
