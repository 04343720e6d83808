import type { Config } from './config.js'
import { buildApp } from './app.js'

export interface RunningServer {
  url: string
  close: () => Promise<void>
}

/** How often idle keep-alive sockets are reaped while draining. */
const REAP_IDLE_MS = 100

/**
 * Starts the HTTP server and closes it gracefully on SIGTERM/SIGINT: stop accepting
 * connections, let in-flight requests and downloads finish (bounded by
 * config.shutdownTimeoutMs), close the database, exit 0. A second signal or the timeout
 * cuts the remaining connections, still closes the database, and exits 1.
 */
export async function runServer (config: Config, opts: { shutdownTimeoutMs?: number } = {}): Promise<RunningServer> {
  const app = await buildApp(config)
  let url: string
  try {
    url = await app.listen({ host: config.host, port: config.port })
  } catch (err) {
    // Not listening (port taken, address not ours): close the database before reporting it.
    await app.close()
    throw err
  }
  const timeoutMs = opts.shutdownTimeoutMs ?? config.shutdownTimeoutMs
  let closing: Promise<void> | undefined
  let forced = false

  const close = (): Promise<void> => {
    closing ??= app.close()
    return closing
  }
  const force = (why: string): void => {
    if (forced) return
    forced = true
    app.log.warn({ why }, 'shutdown: cutting the remaining connections')
    app.server.closeAllConnections()
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing !== undefined) {
      force(`second ${signal}`)
      return
    }
    app.log.info({ signal, timeoutMs }, 'shutting down: no new connections; finishing in-flight requests')
    // server.close() reaps idle keep-alive sockets once; a socket whose download ends later
    // would otherwise stay open until its keep-alive timeout and hold the shutdown up.
    const reaper = setInterval(() => { app.server.closeIdleConnections() }, REAP_IDLE_MS)
    const timer = setTimeout(() => { force(`timeout after ${timeoutMs} ms`) }, timeoutMs)
    close().then(() => {
      clearInterval(reaper)
      clearTimeout(timer)
      app.log.info({ forced }, 'shutdown complete')
      process.exit(forced ? 1 : 0)
    }, (err: unknown) => {
      app.log.error({ err }, 'shutdown failed')
      process.exit(1)
    })
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  return { url, close }
}
