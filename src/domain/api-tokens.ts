// Operator API tokens, as services and routes talk about them (src/repositories/api-tokens.ts maps rows).

/** admin: every operator API call, publishing included; publish: uploads only, within `packages`. */
export type ApiScope = 'admin' | 'publish'

export const API_SCOPES: readonly ApiScope[] = ['admin', 'publish']

export interface ApiToken {
  id: number
  name: string
  scope: ApiScope
  /** Package patterns (vendor/name or vendor/*); empty means any package. */
  packages: string[]
  createdAt: string
  lastUsedAt: string | null
}
