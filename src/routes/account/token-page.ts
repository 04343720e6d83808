import type { FastifyInstance } from 'fastify'
import type { Config } from '../../config.js'
import type { DownloadsService } from '../../services/downloads.js'
import * as pages from '../../web/pages.js'
import { baseUrlOf } from '../composer.js'
import type { PageKit } from './session.js'

export interface TokenPageOptions {
  kit: PageKit
  config: Config
  downloads: DownloadsService
}

/** The Downloads Access Token page: the MAGEID, and a new token shown once. */
export default async function tokenPage (app: FastifyInstance, opts: TokenPageOptions): Promise<void> {
  const { kit, config, downloads } = opts
  app.addHook('preHandler', kit.requireSession)

  app.get('/downloads-token', async (request, reply) => {
    const ctx = kit.pageContext(request, reply)
    const createdAt = downloads.tokenCreatedAt(kit.accountIdOf(request))
    return kit.send(reply, pages.downloadsTokenPage(ctx, { mageId: ctx.account!.mageId, createdAt, baseUrl: baseUrlOf(config, request) }))
  })

  app.post('/downloads-token', async (request, reply) => {
    const ctx = kit.pageContext(request, reply)
    const { token, createdAt } = downloads.regenerateToken(kit.accountIdOf(request))
    request.log.info({ account: ctx.account!.username }, 'downloads token generated')
    ctx.flash = { kind: 'success', text: 'Generated a new Downloads Access Token. The previous token no longer works.' }
    return kit.send(reply, pages.downloadsTokenPage(ctx, { mageId: ctx.account!.mageId, createdAt, token, baseUrl: baseUrlOf(config, request) }))
  })
}
