import module from 'node:module'
import { runServer } from '../../server.js'
import { checkDataDir, UserError, type Cli } from '../kit.js'

/** Why the server could not listen, as one line that says what to change; undefined when unknown. */
function listenProblem (err: unknown, host: string, port: number): UserError | undefined {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return new UserError(`port ${port} on ${host} is already in use; stop the other server or choose another port with --port or PACKYARD_PORT`)
    case 'EACCES':
      return new UserError(`no permission to listen on port ${port} on ${host}; choose a port above 1023 with --port or PACKYARD_PORT`)
    case 'EADDRNOTAVAIL':
      return new UserError(`cannot listen on ${host}: no such address on this machine; choose another with --host or PACKYARD_HOST`)
    default:
      return undefined
  }
}

export function registerServeCommand ({ program, globals }: Cli): void {
  program.command('serve')
    .description('start the HTTP server')
    .option('--host <host>', 'listen address (env PACKYARD_HOST, default 0.0.0.0)')
    .option('--port <port>', 'listen port (env PACKYARD_PORT, default 8080)')
    .action(async (o: { host?: string, port?: string }) => {
      const config = globals().config({ host: o.host, port: o.port })
      checkDataDir(config.dataDir, 'write')
      try {
        await runServer(config)
        // Everything a start compiles is compiled by now: keep it for the next start (bin/packyard.js
        // enables the cache; Node would otherwise write it only when the process exits).
        module.flushCompileCache()
      } catch (err) {
        throw listenProblem(err, config.host, config.port) ?? err
      }
    })
}
