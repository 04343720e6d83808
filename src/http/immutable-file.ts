import type { FileHandle } from 'node:fs/promises'
import type { OutgoingHttpHeaders } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { errors } from '../errors.js'
import { byteRange } from './byte-range.js'
import { writeFileBody } from './file-body.js'

export interface ImmutableFile {
  size: number
  /** The file's SHA-1: its ETag and X-Checksum-Sha1. */
  sha1: string
  lastModified: Date
  open: () => Promise<FileHandle>
}

/**
 * Sends a file that never changes once stored (a dist archive, local or mirrored): caching
 * headers, `Range` (206, and 416 with `Content-Range: bytes *` + size) guarded by `If-Range`
 * (the ETag or the date), and HEAD without opening the file. Returns whether the body starts
 * at byte 0 (a download to count; a resumed transfer is the same download).
 */
export async function sendImmutableFile (request: FastifyRequest, reply: FastifyReply, file: ImmutableFile): Promise<{ reply: FastifyReply, fromStart: boolean }> {
  const etag = `"${file.sha1}"`
  const lastModified = file.lastModified.toUTCString()
  reply.header('accept-ranges', 'bytes')
  reply.header('x-checksum-sha1', file.sha1)
  reply.header('etag', etag)
  reply.header('cache-control', 'private, max-age=31536000, immutable')
  reply.header('last-modified', lastModified)
  const ifRange = request.headers['if-range']
  const range = ifRange === undefined || ifRange === etag || ifRange === lastModified
    ? byteRange(request.headers.range, file.size)
    : undefined
  if (range === 'unsatisfiable') {
    reply.header('content-range', `bytes */${file.size}`)
    throw errors.rangeNotSatisfiable(file.size)
  }
  if (range !== undefined) {
    reply.code(206)
    reply.header('content-range', `bytes ${range.start}-${range.end}/${file.size}`)
  }
  reply.header('content-length', range === undefined ? file.size : range.end - range.start + 1)
  const fromStart = request.method !== 'HEAD' && (range === undefined || range.start === 0)
  // Headers only for HEAD: no file opened.
  if (request.method === 'HEAD') return { reply: reply.send(), fromStart }
  return { reply: await sendFileBody(reply, file.open, range?.start ?? 0, range?.end ?? file.size - 1), fromStart }
}

/**
 * Sends the reply's status and headers, then bytes `start`..`end` (inclusive) of a file as
 * the body, written by file-body.ts rather than piped by Fastify. The file is opened before
 * anything is sent, so a missing file is still an error answer. Fastify's onResponse hooks
 * (access log, metrics) still run when the response finishes.
 */
export async function sendFileBody (reply: FastifyReply, open: () => Promise<FileHandle>, start: number, end: number): Promise<FastifyReply> {
  const handle = await open()
  reply.hijack()
  reply.raw.writeHead(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders)
  writeFileBody(reply.raw, handle, start, end)
  return reply
}
