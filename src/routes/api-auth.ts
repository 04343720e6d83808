import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import type { ApiScope, ApiToken } from '../domain/api-tokens.js'
import { errors } from '../errors.js'
import type { ApiTokenService } from '../services/api-tokens.js'

export interface ApiAuth {
  /** An onRequest hook: 401 without a valid API token, 403 when its scope does not cover `scope`. */
  requireScope: (scope: ApiScope) => onRequestAsyncHookHandler
  /** The token the hook accepted for this request (only in routes behind requireScope). */
  tokenOf: (request: FastifyRequest) => ApiToken
}

const HOW = 'send an API token as "Authorization: Bearer <token>", or as the password of HTTP Basic (any username)'

/** The token from `Bearer <token>`, or the password of `Basic base64(user:token)`. */
export function presentedToken (authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined
  const bearer = /^Bearer +(\S+) *$/i.exec(authorization)
  if (bearer !== null) return bearer[1]
  const basic = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(authorization)
  if (basic === null) return undefined
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon === -1 ? undefined : decoded.slice(colon + 1)
}

/**
 * Operator API authentication, for any encapsulated context that registers the hook.
 * API tokens are not access keys: the Composer routes never accept them, and these routes
 * never accept access keys or account passwords.
 */
export function createApiAuth (opts: { tokens: ApiTokenService, realm: string }): ApiAuth {
  const { tokens, realm } = opts

  const unauthorized = (reply: FastifyReply, message: string): Error => {
    reply.header('www-authenticate', `Bearer realm="${realm}"`)
    return errors.unauthorized(message)
  }

  return {
    requireScope: (scope) => async (request, reply) => {
      const secret = presentedToken(request.headers.authorization)
      if (secret === undefined || secret === '') throw unauthorized(reply, `API token required: ${HOW}`)
      const result = tokens.authenticate(secret)
      if (!result.ok) {
        request.log.info({ reason: result.reason }, 'API token refused')
        throw unauthorized(reply, 'Invalid or revoked API token.')
      }
      if (!tokens.hasScope(result.token, scope)) {
        throw errors.forbidden(`API token "${result.token.name}" has scope ${result.token.scope}; this needs ${scope}`)
      }
      request.operator = result.token
    },
    tokenOf (request) {
      if (request.operator === null) throw new Error('tokenOf called on a route without requireScope')
      return request.operator
    }
  }
}
