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
