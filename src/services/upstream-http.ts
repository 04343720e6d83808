import { readFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'

/** Credentials per host, from an auth.json in Composer's own format. Only ever held in memory. */
export type UpstreamCredentials = Map<string, { username: string, password: string }>

/**
 * Reads `{"http-basic": {"host[:port]": {"username", "password"}}}` from PACKYARD_UPSTREAM_AUTH
 * (the JSON itself, like COMPOSER_AUTH) or the file PACKYARD_UPSTREAM_AUTH_FILE. The message of
 * a failure never quotes the content.
 */
export function loadUpstreamCredentials (opts: { json?: string | undefined, file?: string | undefined }): UpstreamCredentials {
  const out: UpstreamCredentials = new Map()
  const sources: Array<[string, string]> = []
  if (opts.file !== undefined) {
    try {
      sources.push([opts.file, readFileSync(opts.file, 'utf8')])
    } catch (err) {
      throw new Error(`cannot read the upstream auth file ${opts.file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  if (opts.json !== undefined) sources.push(['PACKYARD_UPSTREAM_AUTH', opts.json])
  for (const [where, text] of sources) {
    let doc: unknown
    try {
      doc = JSON.parse(text)
    } catch {
      throw new Error(`${where} is not valid JSON (expected {"http-basic": {"host": {"username": "…", "password": "…"}}})`)
    }
    const basic = (doc as { 'http-basic'?: unknown })['http-basic']
    if (typeof basic !== 'object' || basic === null) continue
    for (const [host, cred] of Object.entries(basic as Record<string, unknown>)) {
      const c = cred as { username?: unknown, password?: unknown }
      if (typeof c?.username === 'string' && typeof c.password === 'string') out.set(host.toLowerCase(), { username: c.username, password: c.password })
    }
  }
  return out
}

/** The credentials for exactly this URL's host: `host:port` first, then the bare host name. */
export function credentialsFor (credentials: UpstreamCredentials, url: URL): { username: string, password: string } | undefined {
  return credentials.get(url.host.toLowerCase()) ?? credentials.get(url.hostname.toLowerCase())
}

export class UpstreamHttpError extends Error {
  /** The HTTP status, or 0 for a transport failure (refused, reset, timeout). */
  readonly status: number
  constructor (message: string, status: number) {
    super(message)
    this.name = 'UpstreamHttpError'
    this.status = status
  }
}

export interface UpstreamResponse {
  status: number
  headers: Headers
  /** The body as a node stream whose idle timeout keeps running while it is read. */
  body: Readable
  /** Stops the idle timer; call once the body is consumed or abandoned. */
  done: () => void
}

const MAX_REDIRECTS = 5

/**
 * GET with credentials looked up per request URL (a redirect to another host never carries the
 * first host's credentials), redirects followed by hand, and an idle timeout: the request fails
 * when nothing arrives for `timeoutMs`, while headers are awaited and while the body is read.
 */
export async function upstreamGet (url: string, opts: { credentials: UpstreamCredentials, timeoutMs: number, headers?: Record<string, string>, form?: string }): Promise<UpstreamResponse> {
  const controller = new AbortController()
  const verb = opts.form === undefined ? 'GET' : 'POST'
  let timer: NodeJS.Timeout | undefined
  const touch = (): void => {
    clearTimeout(timer)
    timer = setTimeout(() => controller.abort(new UpstreamHttpError(`${verb} ${safeUrl(url)}: no answer within ${opts.timeoutMs} ms`, 0)), opts.timeoutMs)
  }
  const done = (): void => { clearTimeout(timer) }
  touch()
  let current = new URL(url)
  try {
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { 'user-agent': 'Packyard-mirror', ...opts.headers }
      // A form (the advisories API) is POSTed; a 307/308 redirect repeats it.
      if (opts.form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded'
      const cred = credentialsFor(opts.credentials, current)
      if (cred !== undefined) headers.authorization = `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`
      let res: Response
      try {
        res = await fetch(current, opts.form === undefined
          ? { headers, redirect: 'manual', signal: controller.signal }
          : { method: 'POST', body: opts.form, headers, redirect: 'manual', signal: controller.signal })
      } catch (err) {
        throw transportError(current, err, controller.signal, verb)
      }
      const location = res.headers.get('location')
      if (res.status >= 300 && res.status < 400 && res.status !== 304 && location !== null) {
        await res.body?.cancel().catch(() => {})
        if (hop >= MAX_REDIRECTS) throw new UpstreamHttpError(`${verb} ${safeUrl(current.toString())}: too many redirects`, 0)
        current = new URL(location, current)
        continue
      }
      touch()
      const body = res.body === null ? Readable.from([]) : Readable.fromWeb(res.body as unknown as WebReadableStream)
      body.on('data', touch)
      body.on('end', done)
      body.on('error', done)
      return { status: res.status, headers: res.headers, body, done }
    }
  } catch (err) {
    done()
    throw err
  }
}

/** A URL fit for a log line or an error message: no user information, no query string. */
export function safeUrl (url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname}`
  } catch {
    return '(invalid URL)'
  }
}

function transportError (url: URL, err: unknown, signal: AbortSignal, verb = 'GET'): UpstreamHttpError {
  if (signal.aborted && signal.reason instanceof UpstreamHttpError) return signal.reason
  const cause = (err as { cause?: { code?: string } }).cause
  return new UpstreamHttpError(`${verb} ${safeUrl(url.toString())}: ${cause?.code ?? (err as Error).message}`, 0)
}

/** Reads a whole (metadata) body, at most `maxBytes`; a cut or stalled transfer throws. */
export async function readBody (res: UpstreamResponse, maxBytes: number, url: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length
      if (size > maxBytes) throw new UpstreamHttpError(`GET ${safeUrl(url)}: more than ${maxBytes} bytes`, 0)
      chunks.push(chunk as Buffer)
    }
  } catch (err) {
    if (err instanceof UpstreamHttpError) throw err
    const reason = (err as { cause?: unknown }).cause
    if (reason instanceof UpstreamHttpError) throw reason
    throw new UpstreamHttpError(`GET ${safeUrl(url)}: transfer failed (${(err as Error).message})`, 0)
  } finally {
    res.done()
  }
  return Buffer.concat(chunks)
}
