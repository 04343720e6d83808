import type { FastifyInstance } from 'fastify'
import { errors } from '../../errors.js'
import { ASSETS } from '../../web/assets.js'

/** The pages' stylesheet, script and icon: no session, no database read. */
export default async function accountAssets (app: FastifyInstance): Promise<void> {
  app.get<{ Params: { file: string } }>('/assets/:file', async (request, reply) => {
    const asset = Object.hasOwn(ASSETS, request.params.file) ? ASSETS[request.params.file] : undefined
    if (asset === undefined) throw errors.notFound(`asset ${request.params.file}`)
    reply.header('cache-control', 'public, max-age=86400')
    reply.header('etag', `"${asset.version}"`)
    if (request.headers['if-none-match'] === `"${asset.version}"`) return reply.code(304).send()
    return reply.type(asset.type).send(asset.body)
  })
}
