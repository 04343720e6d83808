import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import type { AccessKey, Account } from '../domain/accounts.js'
import { accountView, keyView } from '../domain/account-views.js'
import type { AccessKeyService } from '../services/access-keys.js'
import { USERNAME, type AccountService } from '../services/accounts.js'
import type { SessionService } from '../services/sessions.js'

export interface AdminAccountsOptions {
  accounts: AccountService
  keys: AccessKeyService
  sessions: SessionService
  /** Who may manage accounts: an onRequest hook that throws (401/403) for anyone else. */
  authorize: onRequestAsyncHookHandler
}

type UsernameParams = { Params: { username: string } }
type KeyParams = { Params: { publicKey: string } }

const usernameParams = {
  type: 'object',
  required: ['username'],
  properties: { username: { type: 'string', pattern: USERNAME.source } }
} as const

const keyParams = {
  type: 'object',
  required: ['publicKey'],
  properties: { publicKey: { type: 'string', pattern: '^[0-9a-f]{32}$' } }
} as const

/**
 * An object body with exactly these properties. Fastify's Ajv strips what
 * `additionalProperties: false` does not allow instead of refusing it; `propertyNames` is
 * checked first, so a misspelt field ("emial") is a 400 rather than silently ignored.
 */
function body<P extends Record<string, unknown>, R extends ReadonlyArray<keyof P & string>> (properties: P, required: R) {
  return { type: 'object', required, properties, propertyNames: { enum: Object.keys(properties) }, additionalProperties: false } as const
}

const text = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength }) as const

const createAccountBody = body({ username: text(64), email: text(254), password: text(1024) }, ['username'])
const updateAccountBody = { ...body({ email: { type: ['string', 'null'], minLength: 1, maxLength: 254 }, password: text(1024) }, []), minProperties: 1 } as const
const nameBody = body({ name: text(100) }, ['name'])
const importBody = body({ name: text(100), publicKey: text(64), privateKey: text(64) }, ['name', 'publicKey', 'privateKey'])

/**
 * Customers for the operator over HTTP (admin API token): accounts, their access keys (new
 * or imported pairs), suspension, and what they installed. Mounted at /api/v1/admin. A private
 * key is only ever in the answer that creates it.
 */
export default async function adminAccounts (app: FastifyInstance, opts: AdminAccountsOptions): Promise<void> {
  const { accounts, keys, sessions } = opts
  app.addHook('onRequest', opts.authorize)

  const accountOf = (request: FastifyRequest<UsernameParams>): Account => accounts.get(request.params.username)
  const keyOf = (request: FastifyRequest<KeyParams>): AccessKey => keys.get(request.params.publicKey)
  const usernameOf = (key: AccessKey): string => accounts.findById(key.accountId)?.username ?? ''

  app.get('/accounts', async () => accounts.list().map(accountView))

  app.post<{ Body: { username: string, email?: string, password?: string } }>('/accounts', { schema: { body: createAccountBody } }, async (request, reply) => {
    const created = await accounts.create(request.body)
    request.log.info({ account: created.username }, 'account created')
    return reply.code(201).send(accountView(created))
  })

  app.get<UsernameParams>('/accounts/:username', { schema: { params: usernameParams } }, async (request) => accountView(accountOf(request)))

  app.patch<UsernameParams & { Body: { email?: string | null, password?: string } }>('/accounts/:username',
    { schema: { params: usernameParams, body: updateAccountBody } }, async (request) => {
      const updated = await accounts.update(request.params.username, request.body)
      request.log.info({ account: updated.username, email: request.body.email !== undefined, password: request.body.password !== undefined }, 'account updated')
      return accountView(updated)
    })

  app.delete<UsernameParams>('/accounts/:username', { schema: { params: usernameParams } }, async (request, reply) => {
    const removed = accounts.delete(request.params.username)
    request.log.info({ account: removed.username }, 'account deleted with its keys and grants')
    return reply.code(204).send()
  })

  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    app.post<UsernameParams>(`/accounts/:username/${verb}`, { schema: { params: usernameParams } }, async (request) => {
      const account = accounts.setDisabled(request.params.username, disabled)
      // A suspended customer is signed out of the account pages too (and cannot sign in again).
      const sessionsEnded = disabled ? sessions.destroyAll(account.id) : 0
      request.log.info({ account: account.username, sessionsEnded }, disabled ? 'account suspended' : 'account restored')
      return accountView(account)
    })
  }

  app.get<UsernameParams>('/accounts/:username/downloads', { schema: { params: usernameParams } }, async (request) =>
    accounts.downloads(request.params.username))

  app.get<UsernameParams>('/accounts/:username/keys', { schema: { params: usernameParams } }, async (request) => {
    const account = accountOf(request)
    return keys.list(account.id).map((k) => keyView(k, account.username))
  })

  app.post<UsernameParams & { Body: { name: string } }>('/accounts/:username/keys',
    { schema: { params: usernameParams, body: nameBody } }, async (request, reply) => {
      const account = accountOf(request)
      const issued = keys.create(account.id, request.body.name)
      request.log.info({ account: account.username, key: issued.key.name }, 'access key created')
      return reply.code(201).send({ ...keyView(issued.key, account.username), privateKey: issued.privateKey })
    })

  app.post<UsernameParams & { Body: { name: string, publicKey: string, privateKey: string } }>('/accounts/:username/keys/import',
    { schema: { params: usernameParams, body: importBody } }, async (request, reply) => {
      const account = accountOf(request)
      const { name, publicKey, privateKey } = request.body
      const key = keys.import(account.id, name, publicKey, privateKey)
      request.log.info({ account: account.username, key: key.name, publicKey: key.publicKey }, 'access key imported')
      return reply.code(201).send(keyView(key, account.username))
    })

  app.get<KeyParams>('/keys/:publicKey', { schema: { params: keyParams } }, async (request) => {
    const key = keyOf(request)
    return keyView(key, usernameOf(key))
  })

  app.patch<KeyParams & { Body: { name: string } }>('/keys/:publicKey', { schema: { params: keyParams, body: nameBody } }, async (request) => {
    const key = keyOf(request)
    const renamed = keys.rename(key.publicKey, request.body.name)
    request.log.info({ account: usernameOf(key), key: renamed.name, previousName: key.name }, 'access key renamed')
    return keyView(renamed, usernameOf(key))
  })

  app.delete<KeyParams>('/keys/:publicKey', { schema: { params: keyParams } }, async (request, reply) => {
    const username = usernameOf(keyOf(request))
    const removed = keys.delete(request.params.publicKey)
    request.log.info({ account: username, key: removed.name }, 'access key deleted')
    return reply.code(204).send()
  })

  for (const [verb, enabled] of [['disable', false], ['enable', true]] as const) {
    app.post<KeyParams>(`/keys/:publicKey/${verb}`, { schema: { params: keyParams } }, async (request) => {
      const key = keys.setEnabled(request.params.publicKey, enabled)
      request.log.info({ account: usernameOf(key), key: key.name }, enabled ? 'access key enabled' : 'access key disabled')
      return keyView(key, usernameOf(key))
    })
  }

  app.post<KeyParams>('/keys/:publicKey/regenerate', { schema: { params: keyParams } }, async (request) => {
    const issued = keys.regenerate(request.params.publicKey)
    const username = usernameOf(issued.key)
    request.log.info({ account: username, key: issued.key.name }, 'access key regenerated')
    return { ...keyView(issued.key, username), privateKey: issued.privateKey }
  })
}
