import type { FastifyInstance } from 'fastify'
import { hostname } from 'node:os'
import type { LoggerOptions } from 'pino'

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
 * the rest of a metadata request. Nothing is built above info.
 */
export function createAccessLog (level: string, stream: { write: (line: string) => unknown }): AccessLog {
  if (['fatal', 'error', 'warn', 'silent'].includes(level)) return undefined
  const prefix = '{"level":30,"time":'
  const origin = `,"pid":${process.pid},"hostname":${JSON.stringify(hostname())}`
  return (reqId, method, url, statusCode, ip, ms) => {
    stream.write(`${prefix}${Date.now()}${origin},"reqId":${jsonString(reqId)},"method":"${method}","url":${jsonString(url)},"statusCode":${statusCode},"ip":${jsonString(ip)},"ms":${Math.round(ms * 10) / 10},"msg":"request"}\n`)
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
