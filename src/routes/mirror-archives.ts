import type { FastifyInstance } from 'fastify'
import type { CatalogService } from '../services/catalog.js'
import type { MirrorService } from '../services/mirror.js'
import { errors } from '../errors.js'
import { isValidPackageName } from '../composer/composer-json.js'
import { byteRange } from '../http/byte-range.js'

export interface MirrorArchiveOptions {
  catalog: CatalogService
  mirror: MirrorService
  onArchiveDownload?: ((name: string) => void) | undefined
}

/**
 * Archives of mirrored upstream versions: `/mirror/<upstream>/<vendor>/<name>/<version_normalized>.zip`,
 * the dist URL in mirrored metadata. Registered inside the Composer routes' context, so the same
 * access-key authentication applies. The first request fetches the archive from upstream (checked
 * and stored content-addressed first); every later one is served from the store, upstream or not.
 */
export default async function mirrorArchiveRoutes (app: FastifyInstance, opts: MirrorArchiveOptions): Promise<void> {
  const { catalog, mirror } = opts
  app.route<{ Params: { upstream: string, vendor: string, name: string, file: string } }>({
    method: ['GET', 'HEAD'],
    url: '/mirror/:upstream/:vendor/:name/:file',
    exposeHeadRoute: false,
    handler: async (request, reply) => {
      const { upstream, vendor, name, file } = request.params
      const packageName = `${vendor}/${name}`
      const match = /^(.+)\.(zip|tar)$/.exec(file)
      // A local package of the same name shadows every upstream, archives included.
      if (!isValidPackageName(packageName) || match === null || catalog.exists(packageName)) throw errors.notFound(`archive ${upstream}/${packageName}/${file}`)
      const archive = await mirror.archive(request.principal!.accountId, upstream, packageName, match[1]!)
      const lastModified = new Date(archive.fetchedAt).toUTCString()
      reply.header('content-type', match[2] === 'tar' ? 'application/x-tar' : 'application/zip')
      reply.header('accept-ranges', 'bytes')
      reply.header('x-checksum-sha1', archive.sha1)
      reply.header('etag', `"${archive.sha1}"`)
      reply.header('cache-control', 'private, max-age=31536000, immutable')
      const ifRange = request.headers['if-range']
      const range = ifRange === undefined || ifRange === `"${archive.sha1}"` || ifRange === lastModified
        ? byteRange(request.headers.range, archive.size)
        : undefined
      if (range === 'unsatisfiable') {
        reply.header('content-range', `bytes */${archive.size}`)
        throw errors.rangeNotSatisfiable(archive.size)
      }
      if (range !== undefined) {
        reply.code(206)
        reply.header('content-range', `bytes ${range.start}-${range.end}/${archive.size}`)
      }
      reply.header('content-length', range === undefined ? archive.size : range.end - range.start + 1)
      if (request.method === 'HEAD') return reply.send()
      if (range === undefined || range.start === 0) opts.onArchiveDownload?.(packageName)
      return reply.send(mirror.openArchive(archive.sha256, range === undefined ? { highWaterMark: 1024 * 1024 } : { ...range, highWaterMark: 1024 * 1024 }))
    }
  })
}
