import type { Command } from 'commander'
import { mkdirSync, statSync } from 'node:fs'
import { loadConfig, type Config } from '../config.js'
import { createContext, type Context } from '../context.js'
import type { Access } from '../domain/catalog.js'
import type { Io } from './io.js'

/** A mistake in how the command was called: one line on stderr, exit 1. */
export class UserError extends Error {}
/** Some archives failed; each failure was already printed on its own line. */
export class PartialFailure extends Error {}

/**
 * What a command does with the data directory: `read` needs it to exist already (a typo in
 * --data-dir must not answer "no accounts" from a fresh, empty directory), `write` may create it.
 */
export type DataDirUse = 'read' | 'write'

export function parseAccess (value: string): Access {
  if (value !== 'public' && value !== 'restricted') throw new UserError(`invalid access "${value}": use public or restricted`)
  return value
}

/** Refuses a data directory that is a file, or (for `read`) one that does not exist yet. */
export function checkDataDir (dataDir: string, use: DataDirUse): void {
  const fix = 'point --data-dir or PACKYARD_DATA_DIR at a directory'
  const isDirectory = statSync(dataDir, { throwIfNoEntry: false })?.isDirectory()
  if (isDirectory === false) throw new UserError(`data directory ${dataDir} is a file; ${fix}`)
  if (isDirectory === true) return
  if (use === 'read') {
    throw new UserError(`no data directory at ${dataDir}; check --data-dir / PACKYARD_DATA_DIR, or create it by running \`packyard serve\` or a command that writes`)
  }
  try {
    mkdirSync(dataDir, { recursive: true })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOTDIR' || code === 'EEXIST') throw new UserError(`data directory ${dataDir} is inside a file, not a directory; ${fix}`)
    throw new UserError(`cannot create data directory ${dataDir} (${code ?? (err as Error).message}); ${fix} you may write to`)
  }
}

/** What every command module gets: the program to add commands to and the shared plumbing. */
export interface Cli {
  program: Command
  io: Io
  /** The global options: --json, and the configuration with --data-dir applied. */
  globals: () => { json: boolean, config: (overrides?: { host?: string | undefined, port?: string | undefined }) => Config }
  /** Opens this data directory's services after checking the directory fits `use`. */
  openContext: (config: Config, use: DataDirUse) => Context
  /** An action against a freshly opened context whose result is printed (JSON with --json). */
  run: <T>(action: (ctx: Context) => T | Promise<T>, human: (result: T) => string, use?: DataDirUse) => () => Promise<void>
}

export function createCli (program: Command, io: Io): Cli {
  const globals: Cli['globals'] = () => {
    const o = program.opts<{ dataDir?: string, json?: boolean }>()
    return { json: o.json === true, config: (overrides = {}) => loadConfig(io.env, { dataDir: o.dataDir, ...overrides }, io.cwd) }
  }
  const openContext: Cli['openContext'] = (config, use) => {
    checkDataDir(config.dataDir, use)
    return createContext(config)
  }
  const run: Cli['run'] = (action, human, use = 'write') => async () => {
    const g = globals()
    const ctx = openContext(g.config(), use)
    try {
      const result = await action(ctx)
      io.stdout(g.json ? JSON.stringify(result, null, 2) + '\n' : human(result) + '\n')
    } finally {
      ctx.close()
    }
  }
  return { program, io, globals, openContext, run }
}
