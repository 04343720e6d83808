import type { FastifyInstance } from 'fastify'
import type { CatalogService } from '../services/catalog.js'
import type { MirrorService } from '../services/mirror.js'
import { errors } from '../errors.js'
import { isValidPackageName } from '../composer/composer-json.js'
import { sendImmutableFile } from '../http/immutable-file.js'

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
      reply.header('content-type', match[2] === 'tar' ? 'application/x-tar' : 'application/zip')
      const sent = await sendImmutableFile(request, reply, {
        size: archive.size,
        sha1: archive.sha1,
        lastModified: new Date(archive.fetchedAt),
        open: () => mirror.openArchive(archive.sha256)
      })
      if (sent.fromStart) opts.onArchiveDownload?.(packageName)
      return sent.reply
    }
  })
}
