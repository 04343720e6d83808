import type { FastifyInstance } from 'fastify'
import { hostname } from 'node:os'
import type { LoggerOptions } from 'pino'
import type { ByteSink } from './log-sink.js'

/** Secrets never reach the log: credentials travel in headers and bodies, both redacted here. */
export function loggerOptions (level: string): LoggerOptions {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'res.headers["set-cookie"]',
        '*.password',
        '*.privateKey',
        '*.token',
        '*.secret'
      ],
      censor: '[redacted]'
    }
  }
}

/**
 * Writes one access line (`ms`: milliseconds from the request to its answer); undefined when
 * the level leaves access lines out. Positional, so the hot path builds no object for it.
 */
export type AccessLog = ((reqId: string, method: string, url: string, statusCode: number, ip: string, ms: number) => void) | undefined

/**
 * The access log: one JSON line per answered request at info, in pino's own line format
 * (level, time, pid, hostname, then the fields, then msg "request"), written straight to the
 * log stream. Its fields are fixed and hold no secret (credentials never travel in URLs), so
 * it needs neither pino's serializers nor its redaction pass, which together cost more than
 * the rest of a metadata request. Nothing is built above info. Into the log sink (which lends
 * its buffer) the line is written as bytes (`asBytes`); into any other stream, as a string.
 */
export function createAccessLog (level: string, stream: { write: (line: string) => unknown } & Partial<ByteSink>): AccessLog {
  if (['fatal', 'error', 'warn', 'silent'].includes(level)) return undefined
  const prefix = '{"level":30,"time":'
  const origin = `,"pid":${process.pid},"hostname":${JSON.stringify(hostname())}`
  const asString: NonNullable<AccessLog> = (reqId, method, url, statusCode, ip, ms) => {
    stream.write(`${prefix}${Date.now()}${origin},"reqId":${jsonString(reqId)},"method":"${method}","url":${jsonString(url)},"statusCode":${statusCode},"ip":${jsonString(ip)},"ms":${Math.round(ms * 10) / 10},"msg":"request"}\n`)
  }
  return stream.reserve === undefined ? asString : asBytes(stream as ByteSink, prefix, origin, asString)
}

/** The longest line written as bytes; longer ones (long URLs) take the string path. */
const MAX_BYTE_LINE = 4096

/**
 * The same line as `asString`, written byte by byte into the sink's buffer: no string is
 * built, encoded or copied per request. Only printable ASCII without `"` and `\` is written
 * this way (what the Composer hot path logs); a line with anything else, or a long one, is
 * handed to `asString`, which escapes it. `prefix` and `origin` are the line's constant
 * parts before and after the time.
 */
function asBytes (sink: ByteSink, prefix: string, originText: string, asString: NonNullable<AccessLog>): NonNullable<AccessLog> {
  const bytes = (text: string): Buffer => Buffer.from(text, 'utf8')
  const head = bytes(prefix)
  const origin = bytes(originText)
  const reqIdKey = bytes(',"reqId":"')
  const methodKey = bytes('","method":"')
  const urlKey = bytes('","url":"')
  const statusKey = bytes('","statusCode":')
  const ipKey = bytes(',"ip":"')
  const msKey = bytes('","ms":')
  const tail = bytes(',"msg":"request"}\n')
  // The constant bytes plus room for the time, the status and the milliseconds.
  const fixed = head.length + origin.length + reqIdKey.length + methodKey.length + urlKey.length + statusKey.length + ipKey.length + msKey.length + tail.length + 48

  /** Copies a plain string (the characters `PLAIN` accepts); -1 when it holds one that needs escaping or is not ASCII. */
  function plain (b: Buffer, o: number, text: string): number {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return -1
      b[o++] = c
    }
    return o
  }
  /** A non-negative integer below 2^53 in decimal. */
  function integer (b: Buffer, o: number, n: number): number {
    let d = 1
    while (d * 10 <= n) d *= 10
    for (; d >= 1; d /= 10) {
      const digit = Math.floor(n / d)
      b[o++] = 48 + digit
      n -= digit * d
    }
    return o
  }
  function put (b: Buffer, o: number, constant: Buffer): number {
    b.set(constant, o)
    return o + constant.length
  }

  return (reqId, method, url, statusCode, ip, ms) => {
    const need = fixed + reqId.length + method.length + url.length + ip.length
    // Milliseconds as asString prints Math.round(ms * 10) / 10: the integer part, then ".d" unless d is 0.
    const tenths = Math.round(ms * 10)
    if (need > MAX_BYTE_LINE || !(tenths >= 0 && tenths < 1e15) || !Number.isInteger(statusCode) || statusCode < 0 || statusCode > 999) return asString(reqId, method, url, statusCode, ip, ms)
    const b = sink.reserve(need)
    let o = put(b, sink.offset, head)
    o = put(b, integer(b, o, Date.now()), origin)
    o = plain(b, put(b, o, reqIdKey), reqId)
    if (o >= 0) o = plain(b, put(b, o, methodKey), method)
    if (o >= 0) o = plain(b, put(b, o, urlKey), url)
    if (o >= 0) o = plain(b, put(b, integer(b, put(b, o, statusKey), statusCode), ipKey), ip)
    if (o < 0) return asString(reqId, method, url, statusCode, ip, ms)
    o = integer(b, put(b, o, msKey), Math.floor(tenths / 10))
    if (tenths % 10 !== 0) {
      b[o++] = 0x2e
      b[o++] = 48 + (tenths % 10)
    }
    sink.commit(put(b, o, tail))
  }
}

/** Printable ASCII without `"` and `\`: a JSON string needs only the quotes around it. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

/** A JSON string literal: quoted as is when nothing needs escaping (request ids, addresses, most URLs), else JSON.stringify. */
function jsonString (value: string): string {
  return PLAIN.test(value) ? `"${value}"` : JSON.stringify(value)
}

/** The access line of every request Fastify answers (the fast lane writes its own). */
export function accessLogHook (app: FastifyInstance, log: AccessLog): void {
  if (log === undefined) return
  app.addHook('onResponse', (request, reply, done) => {
    log(request.id, request.method, request.url, reply.statusCode, request.ip, reply.elapsedTime)
    done()
  })
}
