import { Command, CommanderError } from 'commander'
import { readFileSync } from 'node:fs'
import semver from 'semver'
import { ConfigError } from '../config.js'
import { isPackyardError } from '../errors.js'
import { defaultIo, type Io } from './io.js'
import { createCli, PartialFailure, UserError } from './kit.js'
import { registerAccountCommands } from './commands/account.js'
import { registerApiTokenCommands } from './commands/api-token.js'
import { registerBackupCommand } from './commands/backup.js'
import { registerEditionCommands } from './commands/edition.js'
import { registerGrantCommands } from './commands/grant.js'
import { registerAdvisoryCommands } from './commands/advisory.js'
import { registerKeyCommands } from './commands/key.js'
import { registerPackageCommands } from './commands/package.js'
import { registerPublishCommand } from './commands/publish.js'
import { registerReleaseCommands } from './commands/release.js'
import { registerServeCommand } from './commands/serve.js'
import { registerTokenCommands } from './commands/token.js'
import { registerWebhookCommands } from './commands/webhook.js'
import { registerUpstreamCommands } from './commands/upstream.js'

export type { Io } from './io.js'

// src/cli and dist/cli sit at the same depth, so ../../package.json works from both.
const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string, engines: { node: string } }

/** A clear message instead of an obscure failure deep in a dependency on an old Node. */
export function unsupportedNode (version = process.versions.node): string | undefined {
  const wanted = packageJson.engines.node
  return semver.satisfies(version, wanted) ? undefined : `Packyard needs Node.js ${wanted}; this is ${version}`
}

/** Builds the `packyard` command. Every command takes --json: one JSON document on stdout. */
function buildProgram (io: Io): Command {
  const program = new Command('packyard')
  program
    .description('Packyard: a self-hosted, authenticated Composer repository')
    // `--version` is also publish's and release add's option, and program options are read
    // after a subcommand too; a leading --version is handled in main (asksForVersion).
    .version(packageJson.version, '-V, --version-info', 'print the Packyard version (also --version)')
    .option('--data-dir <dir>', 'data directory (env PACKYARD_DATA_DIR, default ./storage)')
    .option('--json', 'print one JSON document on stdout')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      outputError: (str, write) => { write(str.replace(/^error: /, 'packyard: ').trim().replace(/\s*\n\s*/g, ' ') + '\n') }
    })
  const cli = createCli(program, io)
  for (const register of [
    registerServeCommand,
    registerAccountCommands,
    registerKeyCommands,
    registerPublishCommand,
    registerPackageCommands,
    registerGrantCommands,
    registerAdvisoryCommands,
    registerReleaseCommands,
    registerEditionCommands,
    registerTokenCommands,
    registerApiTokenCommands,
    registerWebhookCommands,
    registerUpstreamCommands,
    registerBackupCommand
  ]) register(cli)
  return program
}

/** `packyard --version`, possibly after the global options, before any command. */
function asksForVersion (argv: string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--version') return true
    if (arg === '--data-dir') i++
    else if (arg !== '--json' && !arg.startsWith('--data-dir=')) return false
  }
  return false
}

/** Runs the CLI; returns the exit code. User errors are one line on stderr, never a stack trace. */
export async function main (argv: string[], io: Io = defaultIo): Promise<number> {
  const nodeProblem = unsupportedNode()
  if (nodeProblem !== undefined) {
    io.stderr(`packyard: ${nodeProblem}\n`)
    return 1
  }
  if (asksForVersion(argv)) {
    io.stdout(`${packageJson.version}\n`)
    return 0
  }
  const program = buildProgram(io)
  try {
    await program.parseAsync(argv, { from: 'user' })
    return 0
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2
    if (err instanceof PartialFailure) return 1
    if (isPackyardError(err) || err instanceof UserError || err instanceof ConfigError) {
      io.stderr(`packyard: ${err.message}\n`)
      return 1
    }
    io.stderr(`packyard: unexpected error: ${(err as Error).message}\n`)
    return 1
  }
}
