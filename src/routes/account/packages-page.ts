import type { FastifyInstance } from 'fastify'
import type { CatalogService } from '../../services/catalog.js'
import * as pages from '../../web/pages.js'
import type { PageKit } from './session.js'

export interface PackagesPageOptions {
  kit: PageKit
  catalog: CatalogService
}

/** "My packages": what this account can install, which versions its licence covers, and why. */
export default async function packagesPage (app: FastifyInstance, opts: PackagesPageOptions): Promise<void> {
  const { kit, catalog } = opts
  app.addHook('preHandler', kit.requireSession)

  app.get('/packages', async (request, reply) => {
    const ctx = kit.pageContext(request, reply)
    return kit.send(reply, pages.packagesPage(ctx, { packages: catalog.installable(kit.accountIdOf(request)) }))
  })
}
