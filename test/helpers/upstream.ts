import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

interface Teardown { teardown: (fn: () => unknown) => void }

/** What a path answers: fixed bytes (200, JSON), or a handler given the query string. */
export type Route = Buffer | string | ((req: IncomingMessage, res: ServerResponse, query: URLSearchParams) => void)

export interface HttpUpstream {
  url: string
  port: number
  /** Path (decoded, without the query string) → what it answers; anything else is 404. Change it at will. */
  routes: Map<string, Route>
  /** Every request as `<path>?<query>` (the query only when there is one), in order. */
  requests: string[]
  stop: () => Promise<void>
}

/**
 * A Composer repository on 127.0.0.1 built by a test, file by file, optionally behind Basic
 * auth: the stand-in for packagist.org, repo.magento.com or a Satis output. Stopped at teardown.
 */
export async function httpUpstream (t: Teardown, opts: { auth?: { username: string, password: string } } = {}): Promise<HttpUpstream> {
  const routes = new Map<string, Route>()
  const requests: string[] = []
  const expected = opts.auth === undefined ? undefined : `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`
  const server = createServer((req, res) => {
    const raw = req.url ?? '/'
    const q = raw.indexOf('?')
    const path = decodeURIComponent(q === -1 ? raw : raw.slice(0, q))
    const query = new URLSearchParams(q === -1 ? '' : raw.slice(q + 1))
    requests.push(q === -1 ? path : `${path}?${query.toString()}`)
    if (expected !== undefined && req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="upstream"', 'content-type': 'application/json' })
      res.end('{}')
      return
    }
    const route = routes.get(path)
    if (route === undefined) {
      res.writeHead(404)
      res.end()
      return
    }
    if (typeof route === 'function') {
      route(req, res, query)
      return
    }
    const body = Buffer.from(route)
    res.writeHead(200, { 'content-type': path.endsWith('.json') ? 'application/json' : 'application/zip', 'content-length': String(body.length) })
    res.end(body)
  })
  const sockets = new Set<Socket>()
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const stop = async (): Promise<void> => {
    if (!server.listening) return
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t.teardown(stop)
  return { url: `http://127.0.0.1:${port}`, port, routes, requests, stop }
}

/** JSON as the bytes a route answers. */
export const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value))

/** A route answering this status with a short body. */
export const failing = (status: number) => (_req: IncomingMessage, res: ServerResponse): void => {
  res.writeHead(status, { 'content-type': 'text/plain' })
  res.end(`failing with ${status}`)
}

/** A 127.0.0.1 port nothing listens on (bound, then closed). */
export async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
