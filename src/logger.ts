import type { FastifyInstance } from 'fastify'
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
 * The access log: one line per answered request at info, with what an operator greps for.
 * Its fields are fixed and hold no secret (credentials never travel in URLs), so it skips the
 * redaction pass, which costs as much as the rest of the line. Nothing runs above info.
 */
export function accessLog (app: FastifyInstance): void {
  if (['fatal', 'error', 'warn', 'silent'].includes(app.log.level)) return
  const log = app.log.child({}, { redact: { paths: [] } })
  app.addHook('onResponse', (request, reply, done) => {
    log.info({ reqId: request.id, method: request.method, url: request.url, statusCode: reply.statusCode, ip: request.ip, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request')
    done()
  })
}
