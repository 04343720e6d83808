/**
 * The one catalogue of domain errors. Services throw these; the HTTP error handler
 * keeps their status, and the CLI prints their message as one line.
 */
export class PackyardError extends Error {
  readonly code: string
  readonly statusCode: number

  constructor (code: string, statusCode: number, message: string) {
    super(message)
    this.name = 'PackyardError'
    this.code = code
    this.statusCode = statusCode
  }
}

type ErrorFactory<A extends unknown[]> = ((...args: A) => PackyardError) & { code: string }

function defineError<A extends unknown[]> (code: string, statusCode: number, message: (...args: A) => string): ErrorFactory<A> {
  const factory = (...args: A): PackyardError => new PackyardError(code, statusCode, message(...args))
  return Object.assign(factory, { code })
}

export const errors = {
  /** Any input a person must correct: says what is wrong and what is expected. */
  badRequest: defineError('BAD_REQUEST', 400, (detail: string) => detail),
  invalidArchive: defineError('INVALID_ARCHIVE', 400, (file: string, detail: string) => `${file}: ${detail}`),
  invalidComposerJson: defineError('INVALID_COMPOSER_JSON', 400, (file: string, detail: string) => `${file}: composer.json ${detail}`),
  invalidPackageName: defineError('INVALID_PACKAGE_NAME', 400, (name: string) =>
    `invalid package name "${name}": use lowercase vendor/name, e.g. acme/widget`),
  invalidVersion: defineError('INVALID_VERSION', 400, (version: string) =>
    `invalid version "${version}": Composer cannot parse it (use e.g. 1.2.3, 2.4.6-p3, 1.0.0-beta1, dev-main or 1.0.x-dev)`),
  versionConflict: defineError('VERSION_CONFLICT', 409, (name: string, version: string) =>
    `${name} ${version} is already published with different contents; published versions are immutable, publish a new version instead`),
  unauthorized: defineError('UNAUTHORIZED', 401, (detail: string) => detail),
  forbidden: defineError('FORBIDDEN', 403, (detail: string) => detail),
  notFound: defineError('NOT_FOUND', 404, (what: string) => `${what} not found`),
  conflict: defineError('CONFLICT', 409, (detail: string) => detail),
  tooManyRequests: defineError('TOO_MANY_REQUESTS', 429, (detail: string) => detail),
  payloadTooLarge: defineError('PAYLOAD_TOO_LARGE', 413, (limit: number) =>
    `the upload is larger than this server accepts (${limit} bytes, PACKYARD_MAX_UPLOAD_BYTES)`),
  rangeNotSatisfiable: defineError('RANGE_NOT_SATISFIABLE', 416, (size: number) => `the requested range is outside the file (${size} bytes)`),
  schemaTooNew: defineError('SCHEMA_TOO_NEW', 500, (current: number, known: number) =>
    `database schema version ${current} is newer than this release knows (${known}); upgrade Packyard instead of downgrading`)
}

export function isPackyardError (err: unknown): err is PackyardError {
  return err instanceof PackyardError
}
