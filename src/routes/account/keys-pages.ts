import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../../config.js'
import { errors, isPackyardError } from '../../errors.js'
import type { AccessKey } from '../../domain/accounts.js'
import type { AccessKeyService } from '../../services/access-keys.js'
import type { AccountService } from '../../services/accounts.js'
import { checkPasswordThrottled, type LoginThrottle } from '../../services/login-throttle.js'
import type { Flash, SessionService } from '../../services/sessions.js'
import * as pages from '../../web/pages.js'
import { baseUrlOf } from '../composer.js'
import { field, type PageKit } from './session.js'

export interface KeysPagesOptions {
  kit: PageKit
  config: Config
  accounts: AccountService
  keys: AccessKeyService
  sessions: SessionService
  throttle: LoginThrottle
}

type KeyRequest = FastifyRequest<{ Params: { publicKey: string } }>

/** The Access Keys pages: list, create, rename, disable/enable, regenerate, delete, view again. */
export default async function keysPages (app: FastifyInstance, opts: KeysPagesOptions): Promise<void> {
  const { kit, config, keys, sessions } = opts
  const { base } = kit
  app.addHook('preHandler', kit.requireSession)

  const flashAndBack = (request: FastifyRequest, reply: FastifyReply, flash: Flash) => {
    sessions.setFlash(request.session!, flash)
    return kit.redirect(reply, '/account/keys')
  }
  const host = (request: FastifyRequest): string => new URL(baseUrlOf(config, request)).host
  const keysPage = (request: FastifyRequest, reply: FastifyReply, extra: { issued?: pages.IssuedView, nameValue?: string, flash?: Flash } = {}) => {
    const ctx = kit.pageContext(request, reply)
    if (extra.flash !== undefined) ctx.flash = extra.flash
    return pages.keysPage(ctx, { keys: keys.list(kit.accountIdOf(request)), revealEnabled: keys.revealEnabled, host: host(request), ...extra })
  }
  /** The key named in the URL when it belongs to this account; 404 otherwise. */
  const ownKey = (request: KeyRequest): AccessKey => keys.getOwned(kit.accountIdOf(request), request.params.publicKey)

  /** Runs a key action; form mistakes (400/409) come back as a message on the keys page. */
  const keyAction = (run: (request: KeyRequest, key: AccessKey) => Flash) =>
    async (request: KeyRequest, reply: FastifyReply) => {
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

  app.get('/keys', async (request, reply) => kit.send(reply, keysPage(request, reply)))

  app.post('/keys', async (request, reply) => {
    const name = field(request, 'name')
    try {
      const issued = keys.create(kit.accountIdOf(request), name)
      request.log.info({ account: kit.usernameOf(request), key: issued.key.name }, 'access key created')
      return kit.send(reply, keysPage(request, reply, {
        issued: { ...issued, regenerated: false },
        flash: { kind: 'success', text: `Created the access key “${issued.key.name}”.` }
      }))
    } catch (err) {
      if (!isPackyardError(err) || err.statusCode >= 500) throw err
      return kit.send(reply, keysPage(request, reply, { nameValue: name, flash: { kind: 'error', text: err.message.replace(/^invalid/, 'Invalid') } }), err.statusCode)
    }
  })

  app.post<{ Params: { publicKey: string } }>('/keys/:publicKey/rename', keyAction((request, key) => {
    const renamed = keys.rename(key.publicKey, field(request, 'name'))
    request.log.info({ account: kit.usernameOf(request), key: renamed.name, previousName: key.name }, 'access key renamed')
    return { kind: 'success', text: `Renamed “${key.name}” to “${renamed.name}”.` }
  }))

  for (const [verb, enabled] of [['disable', false], ['enable', true]] as const) {
    app.post<{ Params: { publicKey: string } }>(`/keys/:publicKey/${verb}`, keyAction((request, key) => {
      keys.setEnabled(key.publicKey, enabled)
      request.log.info({ account: kit.usernameOf(request), key: key.name }, `access key ${verb}d`)
      return enabled
        ? { kind: 'success', text: `Enabled “${key.name}”. Composer accepts it again from the next request.` }
        : { kind: 'success', text: `Disabled “${key.name}”. Composer requests with it now fail until you enable it again.` }
    }))
  }

  app.get<{ Params: { publicKey: string } }>('/keys/:publicKey/regenerate', async (request, reply) => {
    const key = ownKey(request)
    return kit.send(reply, pages.confirmPage(kit.pageContext(request, reply), {
      title: 'Regenerate this key?',
      key,
      text: 'You get a new public and private key. The current pair stops working at once: every auth.json and CI secret that uses it must be updated.',
      action: `${base}/account/keys/${key.publicKey}/regenerate`,
      button: 'Regenerate key',
      danger: false
    }))
  })

  app.post<{ Params: { publicKey: string } }>('/keys/:publicKey/regenerate', async (request, reply) => {
    const key = ownKey(request)
    const issued = keys.regenerate(key.publicKey)
    request.log.info({ account: kit.usernameOf(request), key: key.name }, 'access key regenerated')
    return kit.send(reply, keysPage(request, reply, {
      issued: { ...issued, regenerated: true },
      flash: { kind: 'success', text: `Regenerated “${key.name}”. The old pair no longer works.` }
    }))
  })

  app.get<{ Params: { publicKey: string } }>('/keys/:publicKey/delete', async (request, reply) => {
    const key = ownKey(request)
    return kit.send(reply, pages.confirmPage(kit.pageContext(request, reply), {
      title: 'Delete this key?',
      key,
      text: 'Composer requests with this key fail from now on. This cannot be undone.',
      action: `${base}/account/keys/${key.publicKey}/delete`,
      button: 'Delete key',
      danger: true
    }))
  })

  app.post<{ Params: { publicKey: string } }>('/keys/:publicKey/delete', keyAction((request, key) => {
    keys.delete(key.publicKey)
    request.log.info({ account: kit.usernameOf(request), key: key.name }, 'access key deleted')
    return { kind: 'success', text: `Deleted “${key.name}”.` }
  }))

  const revealable = (request: KeyRequest): AccessKey => {
    if (!keys.revealEnabled) throw errors.notFound('page')
    const key = ownKey(request)
    if (!key.revealable) throw errors.conflict('No viewable copy of this key is stored (it was created before key viewing was turned on). Regenerate it to get a new pair.')
    return key
  }

  app.get<{ Params: { publicKey: string } }>('/keys/:publicKey/reveal', async (request, reply) =>
    kit.send(reply, pages.revealPage(kit.pageContext(request, reply), { key: revealable(request) })))

  app.post<{ Params: { publicKey: string } }>('/keys/:publicKey/reveal', async (request, reply) => {
    const key = revealable(request)
    const username = kit.usernameOf(request)
    const again = (error: string, status: number) => kit.send(reply, pages.revealPage(kit.pageContext(request, reply), { key, error }), status)
    const check = await checkPasswordThrottled(opts, {
      username, password: field(request, 'password'), address: request.ip, log: request.log, action: 'key reveal', logFields: { key: key.name }
    })
    if (!check.ok) {
      if (check.reason !== 'throttled') return again('Wrong password.', 401)
      reply.header('retry-after', String(check.retryAfterSeconds))
      return again(check.message, 429)
    }
    const privateKey = keys.reveal(kit.accountIdOf(request), key.publicKey)
    request.log.info({ account: username, key: key.name }, 'access key viewed')
    return kit.send(reply, pages.revealPage(kit.pageContext(request, reply), { key, privateKey }))
  })
}
