import 'fastify'
import type { Context } from '../context.js'

export interface Principal {
  accountId: number
  keyId: number
}

declare module 'fastify' {
  interface FastifyInstance {
    /** This instance's database and services (see buildApp). */
    ctx: Context
  }
  interface FastifyRequest {
    /** The account authenticated by its access key, set by the Composer routes' auth hook. */
    principal: Principal | null
  }
}
