import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fastifyBasicAuth from '@fastify/basic-auth'
import type { Config } from '../config.js'
import { errors } from '../errors.js'
import type { AccessKey, Account } from '../domain/accounts.js'
import type { AccessKeyService } from '../services/access-keys.js'
import { ACCOUNT_SUSPENDED, type AccountService } from '../services/accounts.js'
import type { DownloadsService } from '../services/downloads.js'
import { checkPasswordThrottled, type LoginThrottle } from '../services/login-throttle.js'

export interface AccountApiOptions {
  config: Config
  accounts: AccountService
  keys: AccessKeyService
  downloads: DownloadsService
  throttle: LoginThrottle
  onAuthFailure?: ((reason: typeof API_AUTH_FAILURES[number]) => void) | undefined
}

/** The reasons a sign-in to the API fails, as counted by the auth-failure metric. */
export const API_AUTH_FAILURES = ['missing', 'wrong_password', 'throttled', 'suspended'] as const

const REALM = 'Packyard account API'
const AUTH_HELP = 'Authentication required: use HTTP Basic with your account username and password, e.g. curl -u alice:PASSWORD …'

type KeyParams = { Params: { publicKey: string } }

function keyView (k: AccessKey) {
  return { name: k.name, publicKey: k.publicKey, enabled: k.enabled, createdAt: k.createdAt, lastUsedAt: k.lastUsedAt, revealable: k.revealable }
}

/** host[:port] with the default port dropped, as browsers write Origin. */
function hostOf (url: string): string | undefined {
  try { return new URL(url).host } catch { return undefined }
}

const nameBody = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 100 } },
  additionalProperties: false
} as const

/**
 * The Access Keys lifecycle as JSON for automation, under /api/v1, authenticated as the
 * account holder with HTTP Basic (username and password), throttled like the login page.
 * Every key is looked up with getOwned: another account's key is a 404.
 */
export default async function accountApi (app: FastifyInstance, opts: AccountApiOptions): Promise<void> {
  const { accounts, keys, downloads, throttle } = opts

  await app.register(fastifyBasicAuth, {
    authenticate: { realm: REALM },
    async validate (username: string, password: string, request: FastifyRequest, reply: FastifyReply) {
      const check = await checkPasswordThrottled({ accounts, throttle }, { username, password, address: request.ip, log: request.log, action: 'API login' })
      if (!check.ok) {
        opts.onAuthFailure?.(check.reason)
        if (check.reason !== 'throttled') throw errors.unauthorized('Wrong username or password.')
        reply.header('retry-after', String(check.retryAfterSeconds))
        throw errors.tooManyRequests(check.message)
      }
      if (check.account.disabledAt !== null) {
        opts.onAuthFailure?.('suspended')
        throw errors.unauthorized(ACCOUNT_SUSPENDED)
      }
      request.principal = { accountId: check.account.id, via: 'password' }
    }
  })

  app.addHook('onRequest', async (request, reply) => {
    // A browser attaches Basic credentials it has cached to cross-site requests too;
    // refusing foreign origins closes that CSRF path (curl sends no Origin).
    const origin = request.headers.origin
    if (request.method !== 'GET' && request.method !== 'HEAD' && origin !== undefined) {
      const from = hostOf(origin)
      if (from === undefined || from !== hostOf(`${request.protocol}://${request.host}`)) {
        throw errors.forbidden('cross-origin requests are not accepted by the account API')
      }
    }
    if (!/^basic /i.test(request.headers.authorization ?? '')) {
      opts.onAuthFailure?.('missing')
      reply.header('www-authenticate', `Basic realm="${REALM}", charset="UTF-8"`)
      throw errors.unauthorized(AUTH_HELP)
    }
  })
  app.addHook('onRequest', app.basicAuth)
  app.addHook('onError', async (_request, _reply, error) => {
    if ((error as { code?: string }).code === 'FST_BASIC_AUTH_MISSING_OR_BAD_AUTHORIZATION_HEADER') opts.onAuthFailure?.('missing')
  })

  // The account as it is now (a rename or email change shows at once), from the one principal.
  const me = (request: FastifyRequest): Account => {
    const account = accounts.findById(request.principal!.accountId)
    if (account === undefined) throw errors.unauthorized('Wrong username or password.')
    return account
  }
  const ownKey = (request: FastifyRequest<KeyParams>): AccessKey => keys.getOwned(me(request).id, request.params.publicKey)

  app.get('/account', async (request) => {
    const a = me(request)
    return { username: a.username, mageId: a.mageId, email: a.email, createdAt: a.createdAt, keyReveal: keys.revealEnabled }
  })

  app.get('/keys', async (request) => keys.list(me(request).id).map(keyView))

  app.post<{ Body: { name: string } }>('/keys', { schema: { body: nameBody } }, async (request, reply) => {
    const issued = keys.create(me(request).id, request.body.name)
    request.log.info({ account: me(request).username, key: issued.key.name }, 'access key created')
    return reply.code(201).send({ ...keyView(issued.key), privateKey: issued.privateKey })
  })

  app.get<KeyParams>('/keys/:publicKey', async (request) => keyView(ownKey(request)))

  app.patch<KeyParams & { Body: { name: string } }>('/keys/:publicKey', { schema: { body: nameBody } }, async (request) => {
    const key = ownKey(request)
    const renamed = keys.rename(key.publicKey, request.body.name)
    request.log.info({ account: me(request).username, key: renamed.name, previousName: key.name }, 'access key renamed')
    return { name: renamed.name, publicKey: renamed.publicKey }
  })

  app.post<KeyParams>('/keys/:publicKey/regenerate', async (request) => {
    const key = ownKey(request)
    const issued = keys.regenerate(key.publicKey)
    request.log.info({ account: me(request).username, key: key.name }, 'access key regenerated')
    return { name: issued.key.name, publicKey: issued.key.publicKey, privateKey: issued.privateKey }
  })

  for (const [verb, enabled] of [['disable', false], ['enable', true]] as const) {
    app.post<KeyParams>(`/keys/:publicKey/${verb}`, async (request) => {
      const key = ownKey(request)
      keys.setEnabled(key.publicKey, enabled)
      request.log.info({ account: me(request).username, key: key.name }, `access key ${verb}d`)
      return { publicKey: key.publicKey, enabled }
    })
  }

  app.delete<KeyParams>('/keys/:publicKey', async (request) => {
    const key = ownKey(request)
    keys.delete(key.publicKey)
    request.log.info({ account: me(request).username, key: key.name }, 'access key deleted')
    return { publicKey: key.publicKey, deleted: true }
  })

  // The password was just checked (Basic), as the page asks for it again before showing a key.
  app.post<KeyParams>('/keys/:publicKey/reveal', async (request) => {
    const key = ownKey(request)
    const privateKey = keys.reveal(me(request).id, key.publicKey)
    request.log.info({ account: me(request).username, key: key.name }, 'access key viewed')
    return { name: key.name, publicKey: key.publicKey, privateKey }
  })

  app.post('/downloads-token', async (request) => {
    const a = me(request)
    const { token } = downloads.regenerateToken(a.id)
    request.log.info({ account: a.username }, 'downloads token generated')
    return { mageId: a.mageId, token }
  })
}
