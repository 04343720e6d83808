import 'fastify'
import type { Context } from '../context.js'
import type { Session } from '../services/sessions.js'
import type { ApiToken } from '../domain/api-tokens.js'

/** How the account of a request proved who it is. */
export type PrincipalVia = 'key' | 'session' | 'password' | 'token'

/** The one identity of a request, whatever the surface (Composer, pages, API, downloads). */
export interface Principal {
  accountId: number
  via: PrincipalVia
  /** The access key, when authenticated by one (Composer). */
  keyId?: number
}

declare module 'fastify' {
  interface FastifyInstance {
    /** This instance's database and services (see buildApp). */
    ctx: Context
  }
  interface FastifyRequest {
    /** The authenticated account, set by the auth hook of the surface that served the request. */
    principal: Principal | null
    /**
     * The account pages' session (its cookie secret carries the form tokens and the flash),
     * decorated under /account only; account identity is still `principal`.
     */
    session: Session | null
    /** The operator API token a request to the operator API was accepted with (routes/api-auth.ts). */
    operator: ApiToken | null
  }
}
