import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fastifyBasicAuth from '@fastify/basic-auth'
import type { Config } from '../config.js'
import { errors } from '../errors.js'
import { classifyError, sendTextError } from '../http/errors.js'
import type { Release } from '../domain/releases.js'
import type { DownloadsService } from '../services/downloads.js'
import { ACCOUNT_SUSPENDED } from '../services/accounts.js'
import { baseUrlOf } from './composer.js'
import { byteRange } from '../http/byte-range.js'
import { sendFileBody } from '../http/immutable-file.js'

export interface DownloadsRoutesOptions {
  config: Config
  downloads: DownloadsService
  onAuthFailure?: ((reason: typeof DOWNLOADS_AUTH_FAILURES[number]) => void) | undefined
}

/** The reasons a sign-in to the downloads API fails, as counted by the auth-failure metric. */
export const DOWNLOADS_AUTH_FAILURES = ['missing', 'wrong_token', 'suspended'] as const

const REALM = 'Packyard downloads'
const AUTH_HELP = 'use your MAGEID as the username and your Downloads Access Token as the password, e.g. curl -u MAG000000000:TOKEN …'

function listing (files: Release[]): string {
  if (files.length === 0) return 'No results found.\n'
  const rows = files.map((f) => [f.version, f.edition ?? '-', String(f.size), f.fileName])
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)))
  // Column-aligned; the file name is always the last column (scripts take `awk '{print $NF}'`).
  return rows.map((r) => `${r[0]!.padEnd(widths[0]!)}  ${r[1]!.padEnd(widths[1]!)}  ${r[2]!.padStart(widths[2]!)}  ${r[3]}`).join('\n') + '\n'
}

function helpText (base: string): string {
  const api = `${base}/products/downloads`
  return `Packyard downloads API

Authenticate with HTTP Basic: your MAGEID is the username and your Downloads Access
Token the password. Both are on your account's Downloads Access Token page:
${base}/account/downloads-token

  curl -u MAGEID:TOKEN ${api}/info/help
  curl https://MAGEID:TOKEN@host/products/downloads/info/help   (the same, in the URL)

Commands (GET ${api}/…):

  info/help                   this text
  info/files                  every file you may download, one a line:
                              version, edition, size in bytes, file name (last column)
  info/versions               the versions that have files
  info/filter/version/<v>     files of version <v>; * is a wildcard (2.4.*),
                              and a plain 2.4 also matches 2.4.x and 2.4-…
  info/filter/type/<edition>  files of one edition (e.g. ee-full)
  info/json                   JSON feed of every file: file_name, version, edition,
                              size, md5, sha1, sha256, released_at
  file/<file name>            the file itself, with Content-Length, X-Checksum-Sha256,
                              X-Checksum-Sha1, X-Checksum-Md5 and Range support

An empty listing prints "No results found."

Examples:

  curl -u MAGEID:TOKEN ${api}/info/files
  curl -u MAGEID:TOKEN ${api}/info/filter/version/2.4.*
  curl -u MAGEID:TOKEN -O ${api}/file/<file name>
  curl -u MAGEID:TOKEN -C - -O ${api}/file/<file name>     (resume a broken download)
`
}

/**
 * The downloads API (repo.magento.com's /products/downloads): plain-text listings, a JSON
 * feed and the files, for accounts authenticated by MAGEID and Downloads Access Token.
 * Errors are plain text here: the clients are curl and shell scripts.
 */
export default async function downloadsRoutes (app: FastifyInstance, opts: DownloadsRoutesOptions): Promise<void> {
  const { config, downloads } = opts

  await app.register(fastifyBasicAuth, {
    authenticate: { realm: REALM },
    async validate (mageId: string, token: string, request: FastifyRequest) {
      const auth = downloads.authenticate(mageId, token)
      if (!auth.ok) {
        opts.onAuthFailure?.(auth.reason)
        request.log.info({ mageId, reason: auth.reason }, 'downloads token rejected')
        if (auth.reason === 'suspended') throw errors.unauthorized(ACCOUNT_SUSPENDED)
        throw errors.unauthorized(`Wrong MAGEID or Downloads Access Token (a replaced token stops working at once): ${AUTH_HELP}`)
      }
      request.principal = { accountId: auth.accountId, via: 'token' }
    }
  })
  app.addHook('onRequest', app.basicAuth)
  app.addHook('onError', async (_request, _reply, error) => {
    if ((error as { code?: string }).code === 'FST_BASIC_AUTH_MISSING_OR_BAD_AUTHORIZATION_HEADER') opts.onAuthFailure?.('missing')
  })

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const e = classifyError(err, { missingCredentials: `Authentication required: ${AUTH_HELP}` })
    if (e.log) request.log.error({ err }, 'downloads request failed')
    return sendTextError(reply, e, REALM)
  })

  const account = (request: FastifyRequest): number => request.principal!.accountId
  const text = (reply: FastifyReply, body: string) => reply.type('text/plain; charset=utf-8').header('cache-control', 'private, no-store').send(body)

  app.get('/info/help', async (request, reply) => text(reply, helpText(baseUrlOf(config, request))))
  app.get('/info/files', async (request, reply) => text(reply, listing(downloads.visible(account(request)))))
  app.get('/info/versions', async (request, reply) => {
    const versions = downloads.versions(account(request))
    return text(reply, versions.length === 0 ? 'No results found.\n' : versions.join('\n') + '\n')
  })
  app.get<{ Params: { '*': string } }>('/info/filter/version/*', async (request, reply) =>
    text(reply, listing(downloads.filterByVersion(account(request), request.params['*']))))
  app.get<{ Params: { edition: string } }>('/info/filter/type/:edition', async (request, reply) =>
    text(reply, listing(downloads.filterByEdition(account(request), request.params.edition))))
  app.get('/info/json', async (request, reply) => {
    const files = downloads.visible(account(request)).map((f) => ({
      file_name: f.fileName,
      version: f.version,
      edition: f.edition,
      size: f.size,
      md5: f.md5,
      sha1: f.sha1,
      sha256: f.sha256,
      released_at: f.createdAt
    }))
    return reply.header('cache-control', 'private, no-store').send({ files })
  })

  const serveFile = async (request: FastifyRequest<{ Params: { file: string } }>, reply: FastifyReply) => {
    // Looked up by name in the database (visibility included), never joined into a path.
    const file = downloads.file(account(request), request.params.file)
    const etag = `"${file.sha256}"`
    reply.header('accept-ranges', 'bytes')
    reply.header('etag', etag)
    reply.header('last-modified', new Date(file.createdAt).toUTCString())
    reply.header('cache-control', 'private, no-cache')
    reply.header('content-disposition', `attachment; filename="${file.fileName}"`)
    reply.header('x-checksum-sha256', file.sha256)
    reply.header('x-checksum-sha1', file.sha1)
    reply.header('x-checksum-md5', file.md5)
    const ifRange = request.headers['if-range']
    const range = ifRange === undefined || ifRange === etag ? byteRange(request.headers.range, file.size) : undefined
    if (range === 'unsatisfiable') {
      reply.header('content-range', `bytes */${file.size}`)
      return reply.code(416).type('text/plain; charset=utf-8').send(`Error: range not satisfiable (the file has ${file.size} bytes)\n`)
    }
    reply.type('application/octet-stream')
    if (range === undefined) {
      reply.header('content-md5', Buffer.from(file.md5, 'hex').toString('base64'))
      reply.header('content-length', file.size)
    } else {
      reply.code(206)
      reply.header('content-range', `bytes ${range.start}-${range.end}/${file.size}`)
      reply.header('content-length', range.end - range.start + 1)
    }
    if (request.method === 'HEAD' || file.size === 0) return reply.send()
    return await sendFileBody(reply, () => downloads.open(file), range?.start ?? 0, range?.end ?? file.size - 1)
  }
  // HEAD first and explicit: Fastify's automatic HEAD would read the whole file and drop it.
  app.head<{ Params: { file: string } }>('/file/:file', serveFile)
  app.get<{ Params: { file: string } }>('/file/:file', serveFile)
}
