/** A path segment of the admin APIs (a username, a vendor, an upstream name…): 1-200 characters. */
const segment = { type: 'string', minLength: 1, maxLength: 200 } as const

/** The JSON schema of route params that are all path segments, for Fastify's `schema.params`. */
export const pathParams = (...names: string[]) => ({
  type: 'object',
  required: names,
  properties: Object.fromEntries(names.map((n) => [n, segment]))
}) as const
