import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib'

/** A content coding a client accepts, in the order Packyard prefers them. */
export type ContentCoding = 'br' | 'gzip'

/**
 * A prebuilt response body and its compressed forms. Each form is made once, the first time a
 * client that accepts it asks, and then sent as-is; the body never changes after it is built
 * (a change builds a new EncodedBody).
 */
export interface EncodedBody {
  readonly identity: Buffer
  /** The bytes for `coding`, or the identity bytes when compression would not make them smaller. */
  bytes: (coding: ContentCoding | undefined) => { body: Buffer, coding: ContentCoding | undefined }
  /** Bytes held, for cache accounting (grows as compressed forms are made). */
  size: () => number
}

/** Below this, compression saves less than the headers it costs. */
const MIN_COMPRESS_BYTES = 512

// Metadata is compressed once per change and then served many times: buy size with CPU.
// Brotli 9 is close to 11 in size on JSON at a fraction of its time; gzip 9 for the same reason.
const GZIP = { level: 9 }
const BROTLI = { params: { [zlib.BROTLI_PARAM_QUALITY]: 9, [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT } }

/** `onGrow` learns the size of each compressed form when it is made (cache accounting). */
export function encodedBody (identity: Buffer, onGrow?: (bytes: number) => void): EncodedBody {
  let gzip: Buffer | null | undefined
  let br: Buffer | null | undefined
  const smaller = (b: Buffer): Buffer | null => {
    if (b.length >= identity.length) return null
    onGrow?.(b.length)
    return b
  }
  return {
    identity,
    bytes (coding) {
      if (coding === undefined || identity.length < MIN_COMPRESS_BYTES) return { body: identity, coding: undefined }
      if (coding === 'br') {
        br ??= smaller(brotliCompressSync(identity, { ...BROTLI, params: { ...BROTLI.params, [zlib.BROTLI_PARAM_SIZE_HINT]: identity.length } }))
        if (br !== null) return { body: br, coding: 'br' }
      } else {
        gzip ??= smaller(gzipSync(identity, GZIP))
        if (gzip !== null) return { body: gzip, coding: 'gzip' }
      }
      return { body: identity, coding: undefined }
    },
    size: () => identity.length + (gzip?.length ?? 0) + (br?.length ?? 0)
  }
}

/**
 * The coding to send for an Accept-Encoding header: brotli, else gzip, else none. Parsed
 * with the negotiation rules of RFC 9110 (q-values, `*`, `identity`) and remembered per
 * distinct header value, since a client sends the same one on every request.
 */
export function createCodingChooser (negotiate: (header: string) => ContentCoding | undefined) {
  const memo = new Map<string, ContentCoding | undefined>()
  return (header: string | undefined): ContentCoding | undefined => {
    if (header === undefined || header === '') return undefined
    if (memo.has(header)) return memo.get(header)
    const coding = negotiate(header)
    if (memo.size < 256) memo.set(header, coding)
    return coding
  }
}
