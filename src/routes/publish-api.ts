import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fastifyMultipart from '@fastify/multipart'
import { createWriteStream, mkdirSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import path from 'node:path'
import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Config } from '../config.js'
import type { Access } from '../domain/catalog.js'
import { errors, isPackyardError } from '../errors.js'
import type { ApiTokenService } from '../services/api-tokens.js'
import type { CatalogService, PublishResult } from '../services/catalog.js'
import { createApiAuth } from './api-auth.js'

export interface PublishApiOptions {
  config: Config
  catalog: CatalogService
  apiTokens: ApiTokenService
}

interface UploadQuery { access?: Access, version?: string }
interface UploadParams { vendor: string, name: string, version: string }

/** The multipart field that carries the archive (composer-push, type nexus; Packeton). */
const FILE_FIELD = 'package'
/** Text fields composer-push sends with --src-type/--src-url/--src-ref: logged, not stored. */
const SOURCE_FIELDS = ['src-type', 'src-url', 'src-ref']

const NO_BODY = `no archive in the request body: send the zip as the body or in the form field "${FILE_FIELD}"`

const accessProperty = { type: 'string', enum: ['public', 'restricted'] } as const

/**
 * Saves a raw request body to `file`, counting bytes as they arrive. Past `maxBytes` it
 * stops writing and lets the rest of the body drain unread (the request itself is never
 * destroyed, so the client still reads the 413).
 */
async function saveBody (source: Readable, file: string, maxBytes: number): Promise<number> {
  let size = 0
  const counter = new Transform({
    transform (chunk: Buffer, _encoding, callback) {
      size += chunk.length
      if (size > maxBytes) callback(errors.payloadTooLarge(maxBytes))
      else callback(null, chunk)
    }
  })
  const onError = (err: Error): void => { counter.destroy(err) }
  const onClose = (): void => { if (!source.readableEnded) counter.destroy(new Error('the client closed the connection before the upload ended')) }
  source.on('error', onError)
  source.on('close', onClose)
  source.pipe(counter)
  try {
    await pipeline(counter, createWriteStream(file, { flags: 'wx' }))
    return size
  } catch (err) {
    source.unpipe(counter)
    source.resume()
    throw err
  } finally {
    source.off('error', onError)
    source.off('close', onClose)
  }
}

/**
 * Saves the `package` file of a multipart body to `file`. @fastify/multipart truncates a
 * file at limits.fileSize (413 here); a body that breaks off or is not well-formed is a 400.
 */
async function saveMultipartFile (request: FastifyRequest, file: string, maxBytes: number): Promise<Record<string, string>> {
  const fields: Record<string, string> = {}
  let saved = false
  let unexpected: string | undefined
  try {
    for await (const part of request.parts()) {
      if (part.type === 'field') {
        fields[part.fieldname] = String(part.value)
        continue
      }
      if (part.fieldname !== FILE_FIELD || saved) {
        unexpected ??= part.fieldname
        part.file.resume()
        continue
      }
      await pipeline(part.file, createWriteStream(file, { flags: 'wx' }))
      if (part.file.truncated) throw errors.payloadTooLarge(maxBytes)
      saved = true
    }
  } catch (err) {
    if (isPackyardError(err)) throw err
    const e = err as NodeJS.ErrnoException & { statusCode?: number }
    if (e.code === 'FST_REQ_FILE_TOO_LARGE') throw errors.payloadTooLarge(maxBytes)
    // A disk problem is ours (500); anything else is the body's fault.
    if (e.syscall !== undefined) throw err
    throw errors.badRequest(`malformed multipart body (${e.message}); send the archive in the form field "${FILE_FIELD}"`)
  }
  if (unexpected !== undefined) throw errors.badRequest(`unexpected file in form field "${unexpected}": send one archive in the form field "${FILE_FIELD}"`)
  if (!saved) throw errors.badRequest(`no archive in the form field "${FILE_FIELD}"`)
  return fields
}

/** A file name for error messages ("acme-widget-1.0.0.zip: no composer.json …"), safe on disk. */
function uploadLabel (hint: string | undefined): string {
  const safe = (hint ?? 'upload').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '').slice(0, 100)
  return `${safe === '' ? 'upload' : safe}.zip`
}

/**
 * Publishing over HTTP with an API token: the composer-push (type nexus) and Packeton
 * protocol, PUT /api/packages/upload/<vendor>/<name>/<version>, and POST /api/v1/packages.
 * The body streams to a temp file in the data directory, never whole into memory; then
 * catalog.publish applies the same validation and immutability as `packyard publish`.
 */
export default async function publishApi (app: FastifyInstance, opts: PublishApiOptions): Promise<void> {
  const { config, catalog, apiTokens } = opts
  const maxBytes = config.maxUploadBytes
  const uploadRoot = path.join(config.dataDir, 'uploads')
  mkdirSync(uploadRoot, { recursive: true })
  const auth = createApiAuth({ tokens: apiTokens, realm: config.realm })

  // In this context only: every body except multipart reaches the handler as the raw stream,
  // whatever its Content-Type (composer-push sends application/zip, other clients none or another).
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, payload, done) => { done(null, payload) })
  await app.register(fastifyMultipart, {
    limits: { fileSize: maxBytes, files: 2, fields: 20, fieldSize: 64 * 1024, parts: 30, headerPairs: 100 }
  })
  app.addHook('onRequest', auth.requireScope('publish'))

  async function upload (request: FastifyRequest, reply: FastifyReply, target: { name?: string, version?: string, access?: Access | undefined }): Promise<FastifyReply> {
    const token = auth.tokenOf(request)
    if (target.access !== undefined && token.scope !== 'admin') {
      throw errors.forbidden(`API token "${token.name}" may not set access; new packages are restricted (use an admin token or \`packyard package access\`)`)
    }
    const multipart = request.isMultipart()
    if (!multipart) {
      const declared = Number(request.headers['content-length'])
      if (declared > maxBytes) throw errors.payloadTooLarge(maxBytes)
      if (request.body === undefined || request.body === null) throw errors.badRequest(NO_BODY)
    }
    const dir = await mkdtemp(path.join(uploadRoot, 'upload-'))
    let fields: Record<string, string> = {}
    let result: PublishResult
    try {
      const file = path.join(dir, uploadLabel(target.name === undefined ? undefined : `${target.name.replace('/', '-')}-${target.version ?? ''}`))
      if (multipart) fields = await saveMultipartFile(request, file, maxBytes)
      else if (await saveBody(request.body as Readable, file, maxBytes) === 0) throw errors.badRequest(NO_BODY)
      result = await catalog.publish(file, {
        version: target.version,
        access: target.access,
        accept: (name) => {
          if (target.name !== undefined && name !== target.name) {
            throw errors.badRequest(`the URL names ${target.name} but the archive's composer.json names ${name}; upload it to /api/packages/upload/${name}/<version>`)
          }
          apiTokens.checkPublish(token, name)
        }
      })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
    const source = Object.fromEntries(SOURCE_FIELDS.filter((f) => fields[f] !== undefined).map((f) => [f, fields[f]]))
    request.log.info({ apiToken: token.name, package: result.name, version: result.version, shasum: result.shasum, created: result.created, ...source },
      result.created ? 'package published over HTTP' : 'package upload unchanged (same bytes already published)')
    return await reply.code(result.created ? 201 : 200).send({ name: result.name, version: result.version, versionNormalized: result.versionNormalized, shasum: result.shasum })
  }

  app.put<{ Params: UploadParams, Querystring: UploadQuery }>('/api/packages/upload/:vendor/:name/:version', {
    schema: {
      params: {
        type: 'object',
        required: ['vendor', 'name', 'version'],
        properties: { vendor: { type: 'string', minLength: 1 }, name: { type: 'string', minLength: 1 }, version: { type: 'string', minLength: 1, maxLength: 100 } }
      },
      querystring: { type: 'object', properties: { access: accessProperty }, additionalProperties: false }
    }
  }, async (request, reply) => {
    const name = `${request.params.vendor}/${request.params.name}`.toLowerCase()
    // Refused before a byte of the body is read.
    apiTokens.checkPublish(auth.tokenOf(request), name)
    return await upload(request, reply, { name, version: request.params.version, access: request.query.access })
  })

  app.post<{ Querystring: UploadQuery }>('/api/v1/packages', {
    schema: {
      querystring: { type: 'object', properties: { access: accessProperty, version: { type: 'string', minLength: 1, maxLength: 100 } }, additionalProperties: false }
    }
  }, async (request, reply) => await upload(request, reply, { version: request.query.version, access: request.query.access }))
}
