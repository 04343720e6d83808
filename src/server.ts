import type { Config } from './config.js'
import { buildApp } from './app.js'

export interface RunningServer {
  url: string
  close: () => Promise<void>
}

/**
 * Starts the HTTP server and closes it gracefully on SIGTERM/SIGINT: stop accepting,
 * let in-flight requests and downloads finish (bounded), close the database, exit 0.
 */
export async function runServer (config: Config, opts: { shutdownTimeoutMs?: number } = {}): Promise<RunningServer> {
  const app = await buildApp(config)
  const url = await app.listen({ host: config.host, port: config.port })
  const timeoutMs = opts.shutdownTimeoutMs ?? 30_000
  let closing: Promise<void> | undefined

  const close = (): Promise<void> => {
    closing ??= app.close()
    return closing
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    app.log.info({ signal }, 'shutting down: finishing in-flight requests')
    const timer = setTimeout(() => {
      app.log.error({ timeoutMs }, 'shutdown timed out; exiting with open connections')
      process.exit(1)
    }, timeoutMs)
    timer.unref()
    close().then(() => {
      app.log.info('shutdown complete')
      process.exit(0)
    }, (err: unknown) => {
      app.log.error({ err }, 'shutdown failed')
      process.exit(1)
    })
  }
  process.once('SIGTERM', onSignal)
  process.once('SIGINT', onSignal)
  return { url, close }
}
