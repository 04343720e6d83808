import type { FastifyError, FastifyReply } from 'fastify'
import { isPackyardError } from '../errors.js'

/** What an error means for HTTP, whatever the surface renders it as (JSON, HTML, text). */
export interface ClassifiedError {
  status: number
  code: string
  message: string
  /** An unexpected failure: log it (the answer tells the client nothing more). */
  log: boolean
  /** The message is Fastify's or a plugin's, not ours: a surface may word it for its readers. */
  fromFramework: boolean
}

export const INTERNAL_MESSAGE = 'Internal server error'

/**
 * The one status ladder: our errors keep their status, code and message; schema validation
 * is 400; a bare 401 comes from the basic-auth plugin (no or malformed Authorization header)
 * and gets `missingCredentials`; other client errors from Fastify or a plugin keep theirs;
 * anything else is a 500 that is logged and says nothing about its cause.
 */
export function classifyError (err: FastifyError, opts: { missingCredentials: string }): ClassifiedError {
  if (isPackyardError(err)) return { status: err.statusCode, code: err.code, message: err.message, log: err.statusCode >= 500, fromFramework: false }
  if (err.validation !== undefined) return { status: 400, code: 'BAD_REQUEST', message: err.message, log: false, fromFramework: false }
  const status = err.statusCode ?? 500
  if (status === 401) return { status, code: 'UNAUTHORIZED', message: opts.missingCredentials, log: false, fromFramework: false }
  if (status >= 400 && status < 500) return { status, code: err.code ?? 'BAD_REQUEST', message: err.message, log: false, fromFramework: true }
  return { status: 500, code: 'INTERNAL', message: INTERNAL_MESSAGE, log: true, fromFramework: false }
}

function challenge (reply: FastifyReply, status: number, realm: string): void {
  if (status === 401 && !reply.hasHeader('www-authenticate')) reply.header('www-authenticate', `Basic realm="${realm}", charset="UTF-8"`)
}

/**
 * A JSON error body. Content-Type must be exactly application/json: Composer prints the
 * `warning` of a 4xx body only then (docs/composer-protocol.md §4.6). It is a Buffer because
 * Fastify appends `; charset=utf-8` to a JSON type when the payload is a string.
 */
export function jsonErrorBody (status: number, code: string, message: string): Buffer {
  const body: Record<string, string> = { code, message }
  // Composer shows `warning` on any 4xx; only auth failures and throttling deserve that prominence.
  if (status === 401 || status === 403 || status === 429) body.warning = message
  return Buffer.from(JSON.stringify(body))
}

/** Renders for Composer and the JSON API: `{ code, message[, warning] }`, a challenge on 401. */
export function sendJsonError (reply: FastifyReply, e: Pick<ClassifiedError, 'status' | 'code' | 'message'>, realm: string): FastifyReply {
  challenge(reply, e.status, realm)
  return reply.code(e.status).type('application/json').send(jsonErrorBody(e.status, e.code, e.message))
}

/** Renders for curl and shell scripts: one `Error: …` line, a challenge on 401. */
export function sendTextError (reply: FastifyReply, e: Pick<ClassifiedError, 'status' | 'message'>, realm: string): FastifyReply {
  challenge(reply, e.status, realm)
  return reply.code(e.status).type('text/plain; charset=utf-8').send(`Error: ${e.message}\n`)
}
