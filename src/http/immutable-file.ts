import type { ReadStream } from 'node:fs'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { errors } from '../errors.js'
import { byteRange } from './byte-range.js'

/** Archives are read in chunks this large: fewer read calls and socket writes than the default 64 KiB. */
const READ_BYTES = 1024 * 1024

export interface ImmutableFile {
  size: number
  /** The file's SHA-1: its ETag and X-Checksum-Sha1. */
  sha1: string
  lastModified: Date
  open: (read: { start?: number, end?: number, highWaterMark: number }) => ReadStream
}

/**
 * Sends a file that never changes once stored (a dist archive, local or mirrored): caching
 * headers, `Range` (206, and 416 with `Content-Range: bytes *` + size) guarded by `If-Range`
 * (the ETag or the date), and HEAD without opening the file. Returns whether the body starts
 * at byte 0 (a download to count; a resumed transfer is the same download).
 */
export function sendImmutableFile (request: FastifyRequest, reply: FastifyReply, file: ImmutableFile): { reply: FastifyReply, fromStart: boolean } {
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
  return { reply: reply.send(file.open(range === undefined ? { highWaterMark: READ_BYTES } : { ...range, highWaterMark: READ_BYTES })), fromStart }
}
