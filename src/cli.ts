import { Command, CommanderError, Option } from 'commander'
import { readFileSync } from 'node:fs'
import semver from 'semver'
import cliProgress from 'cli-progress'
import { ConfigError, loadConfig, type Config } from './config.js'
import { createContext, type Context } from './context.js'
import { errors, isPackyardError } from './errors.js'
import type { Access } from './repositories/packages.js'
import type { AccessKey } from './repositories/access-keys.js'
import { runServer } from './server.js'
import { backupDataDir } from './services/backup.js'

interface Io {
  stdout: (s: string) => void
  stderr: (s: string) => void
  stdin: () => Promise<string>
  isTTY: boolean
  env: Record<string, string | undefined>
}

const defaultIo: Io = {
  stdout: (s) => { process.stdout.write(s) },
  stderr: (s) => { process.stderr.write(s) },
  stdin: async () => {
    const chunks: Buffer[] = []
    for await (const c of process.stdin) chunks.push(c as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  },
  isTTY: process.stderr.isTTY === true,
  env: process.env
}

class UserError extends Error {}
/** Some archives failed; each failure was already printed on its own line. */
class PartialFailure extends Error {}

function keyView (k: AccessKey) {
  return { name: k.name, publicKey: k.publicKey, enabled: k.enabled, createdAt: k.createdAt, lastUsedAt: k.lastUsedAt }
}

function parseAccess (value: string): Access {
  if (value !== 'public' && value !== 'restricted') throw new UserError(`invalid access "${value}": use public or restricted`)
  return value
}

/** Builds the `packyard` command. Every command takes --json: one JSON document on stdout. */
export function buildCli (io: Io = defaultIo): Command {
  const program = new Command('packyard')
  program
    .description('Packyard: a self-hosted, authenticated Composer repository')
    .version(packageJson.version, '-V, --version-info', 'print the Packyard version')
    .option('--data-dir <dir>', 'data directory (env PACKYARD_DATA_DIR, default ./storage)')
    .option('--json', 'print one JSON document on stdout')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      outputError: (str, write) => { write(str.replace(/^error: /, 'packyard: ').trim().replace(/\s*\n\s*/g, ' ') + '\n') }
    })

  const globals = (): { json: boolean, config: () => Config } => {
    const o = program.opts<{ dataDir?: string, json?: boolean }>()
    return { json: o.json === true, config: () => loadConfig(io.env, { dataDir: o.dataDir }) }
  }

  /** Runs an action against a freshly opened context and prints its result. */
  const run = <T>(action: (ctx: Context) => T | Promise<T>, human: (result: T) => string) => async (): Promise<void> => {
    const g = globals()
    const ctx = createContext(g.config())
    try {
      const result = await action(ctx)
      io.stdout(g.json ? JSON.stringify(result, null, 2) + '\n' : human(result) + '\n')
    } finally {
      ctx.close()
    }
  }

  program.command('serve')
    .description('start the HTTP server')
    .option('--host <host>', 'listen address (env PACKYARD_HOST, default 0.0.0.0)')
    .option('--port <port>', 'listen port (env PACKYARD_PORT, default 8080)')
    .action(async (o: { host?: string, port?: string }) => {
      const dataDir = program.opts<{ dataDir?: string }>().dataDir
      await runServer(loadConfig(io.env, { dataDir, host: o.host, port: o.port }))
    })

  const account = program.command('account').description('manage accounts')
  account.command('create <username>')
    .description('create an account')
    .option('--email <email>', 'contact email')
    .option('--password-stdin', 'read a password for the web pages from standard input')
    .action(async (username: string, o: { email?: string, passwordStdin?: boolean }) => {
      const password = o.passwordStdin === true ? (await io.stdin()).replace(/\r?\n$/, '') : undefined
      await run(async (ctx) => {
        const a = await ctx.accounts.create({ username, email: o.email, password })
        return { username: a.username, mageId: a.mageId }
      }, (a) => `created account ${a.username} (MAGEID ${a.mageId})`)()
    })
  account.command('list')
    .description('list accounts')
    .action(run((ctx) => ctx.accounts.list().map((a) => ({ username: a.username, mageId: a.mageId, email: a.email, createdAt: a.createdAt })),
      (list) => list.length === 0 ? 'no accounts' : list.map((a) => `${a.username}\t${a.mageId}\t${a.email ?? ''}`).join('\n')))
  account.command('password <username>')
    .description('set the password for the web pages and the account API (read from standard input); signs the account out everywhere')
    .action(async (username: string) => {
      const password = (await io.stdin()).replace(/\r?\n$/, '')
      await run(async (ctx) => {
        const a = await ctx.accounts.setPassword(username, password)
        return { username: a.username, sessionsEnded: ctx.sessions.destroyAll(a.id) }
      }, (r) => `set the password of ${r.username} (${r.sessionsEnded} sessions ended)`)()
    })

  const key = program.command('key').description('manage access keys')
  key.command('create <username>')
    .description('create a named access key pair')
    .requiredOption('--name <name>', 'what the key is for (a developer, a CI system, …)')
    .action(async (username: string, o: { name: string }) => {
      await run((ctx) => {
        const issued = ctx.keys.create(ctx.accounts.get(username).id, o.name)
        return { name: issued.key.name, publicKey: issued.key.publicKey, privateKey: issued.privateKey, enabled: true }
      }, (k) => `created key "${k.name}"\npublic key:  ${k.publicKey}\nprivate key: ${k.privateKey}\nThe private key is shown only now; store it in auth.json.`)()
    })
  key.command('list <username>')
    .description('list an account\'s access keys (never the private keys)')
    .action(async (username: string) => {
      await run((ctx) => ctx.keys.list(ctx.accounts.get(username).id).map(keyView),
        (list) => list.length === 0 ? 'no keys' : list.map((k) => `${k.publicKey}\t${k.enabled ? 'enabled ' : 'disabled'}\t${k.name}\tlast used ${k.lastUsedAt ?? 'never'}`).join('\n'))()
    })
  key.command('rename <publicKey> <newName>')
    .description('rename a key')
    .action(async (publicKey: string, newName: string) => {
      await run((ctx) => { const k = ctx.keys.rename(publicKey, newName); return { name: k.name, publicKey: k.publicKey } },
        (k) => `renamed ${k.publicKey} to "${k.name}"`)()
    })
  key.command('regenerate <publicKey>')
    .description('replace a key pair with a new one; the old pair stops working at once')
    .action(async (publicKey: string) => {
      await run((ctx) => { const r = ctx.keys.regenerate(publicKey); return { name: r.key.name, publicKey: r.key.publicKey, privateKey: r.privateKey } },
        (k) => `regenerated key "${k.name}"\npublic key:  ${k.publicKey}\nprivate key: ${k.privateKey}\nThe old pair no longer works.`)()
    })
  for (const [verb, enabled] of [['disable', false], ['enable', true]] as const) {
    key.command(`${verb} <publicKey>`)
      .description(`${verb} a key`)
      .action(async (publicKey: string) => {
        await run((ctx) => { const k = ctx.keys.setEnabled(publicKey, enabled); return { publicKey: k.publicKey, enabled: k.enabled } },
          (k) => `${k.publicKey} ${k.enabled ? 'enabled' : 'disabled'}`)()
      })
  }
  key.command('delete <publicKey>')
    .description('delete a key')
    .action(async (publicKey: string) => {
      await run((ctx) => { const k = ctx.keys.delete(publicKey); return { publicKey: k.publicKey, deleted: true } },
        (k) => `deleted ${k.publicKey}`)()
    })

  program.command('publish <archives...>')
    .description('publish zip archives (composer.json at the root or in one top-level folder)')
    .addOption(new Option('--access <access>', 'access for a new package (default restricted)').choices(['public', 'restricted']))
    .option('--version <version>', 'version to publish (default: "version" in composer.json)')
    .action(async (archives: string[], o: { access?: string, version?: string }) => {
      const g = globals()
      if (o.version !== undefined && archives.length > 1) throw new UserError('--version applies to one archive; publish archives one at a time with it')
      const access = o.access === undefined ? undefined : parseAccess(o.access)
      const ctx = createContext(g.config())
      const bar = io.isTTY && !g.json && archives.length > 1
        ? new cliProgress.SingleBar({ format: 'publishing [{bar}] {value}/{total} {file}', stream: process.stderr }, cliProgress.Presets.shades_classic)
        : undefined
      const published: Array<{ name: string, version: string, versionNormalized: string, shasum: string }> = []
      let failures = 0
      try {
        bar?.start(archives.length, 0, { file: '' })
        for (const file of archives) {
          bar?.update({ file })
          try {
            const r = await ctx.catalog.publish(file, { access, version: o.version })
            published.push({ name: r.name, version: r.version, versionNormalized: r.versionNormalized, shasum: r.shasum })
            if (!g.json && bar === undefined) io.stdout(`${r.created ? 'published' : 'unchanged'} ${r.name} ${r.version} (sha1 ${r.shasum})\n`)
          } catch (err) {
            if (!isPackyardError(err)) throw err
            failures++
            bar?.stop()
            io.stderr(`packyard: ${err.message}\n`)
          }
          bar?.increment()
        }
      } finally {
        bar?.stop()
        ctx.close()
      }
      if (g.json) io.stdout(JSON.stringify(published, null, 2) + '\n')
      else if (bar !== undefined) io.stdout(`published ${published.length} of ${archives.length} archives\n`)
      if (failures > 0) throw new PartialFailure(`${failures} archive(s) failed`)
    })

  const pkg = program.command('package').description('manage packages')
  pkg.command('list')
    .description('list packages with their access and versions')
    .action(run((ctx) => ctx.catalog.list(),
      (list) => list.length === 0 ? 'no packages' : list.map((p) => `${p.name}\t${p.access}\t${p.versions.join(', ')}`).join('\n')))
  pkg.command('access <name> <access>')
    .description('make a package public (every account) or restricted (granted accounts only)')
    .action(async (name: string, access: string) => {
      await run((ctx) => { const p = ctx.catalog.setAccess(name, parseAccess(access)); return { name: p.name, access: p.access } },
        (p) => `${p.name} is now ${p.access}`)()
    })

  for (const [verb, granted] of [['grant', true], ['revoke', false]] as const) {
    program.command(`${verb} <username> <target>`)
      .description(granted
        ? 'give an account access to a restricted package (vendor/name) or release edition'
        : 'take a package or edition grant back')
      .action(async (username: string, name: string) => {
        await run((ctx): { username: string, granted: boolean } & ({ package: string } | { edition: string }) => {
          const account = ctx.accounts.get(username)
          // A package first; names without a vendor/ can only be editions.
          if (ctx.repos.packages.findByName(name.toLowerCase()) === undefined && !name.includes('/')) {
            if (ctx.downloads.findEdition(name) === undefined) throw errors.notFound(`package or edition "${name}"`)
            const e = granted ? ctx.downloads.grantEdition(account.id, name) : ctx.downloads.revokeEdition(account.id, name)
            return { username: account.username, edition: e.name, granted }
          }
          const p = granted ? ctx.catalog.grant(account.id, name) : ctx.catalog.revoke(account.id, name)
          return { username: account.username, package: p.name, granted }
        }, (r) => 'package' in r
          ? `${r.username} ${r.granted ? 'may now install' : 'may no longer install'} ${r.package}`
          : `${r.username} ${r.granted ? 'may now download' : 'may no longer download'} the ${r.edition} release files`)()
      })
  }

  const release = program.command('release').description('manage release files served by the downloads API')
  release.command('add <file>')
    .description('add a release file (full download) for /products/downloads/')
    .requiredOption('--version <version>', 'the release version, e.g. 2.4.6-p3')
    .option('--edition <edition>', 'its edition, e.g. ce-full or ee-full (see `edition access`)')
    .option('--name <name>', 'file name to serve it under (default: the file\'s own name)')
    .action(async (file: string, o: { version: string, edition?: string, name?: string }) => {
      await run(async (ctx) => {
        const r = await ctx.downloads.addRelease(file, { version: o.version, edition: o.edition, name: o.name })
        return { file: r.file, version: r.version, edition: r.edition }
      }, (r) => `added ${r.file} (version ${r.version}${r.edition === null ? '' : `, edition ${r.edition}`})`)()
    })
  release.command('list')
    .description('list release files, newest version first')
    .action(run((ctx) => ctx.downloads.list().map((r) => ({ file: r.fileName, version: r.version, edition: r.edition, size: r.size, sha256: r.sha256, md5: r.md5, createdAt: r.createdAt })),
      (list) => list.length === 0 ? 'no release files' : list.map((r) => `${r.version}\t${r.edition ?? '-'}\t${r.size}\t${r.file}`).join('\n')))

  const edition = program.command('edition').description('manage release editions')
  edition.command('access <edition> <access>')
    .description('make an edition\'s files public (every account with a token) or restricted (granted accounts only); creates the edition when new')
    .action(async (name: string, access: string) => {
      await run((ctx) => { const e = ctx.downloads.setEditionAccess(name, parseAccess(access)); return { edition: e.name, access: e.access } },
        (e) => `edition ${e.edition} is now ${e.access}`)()
    })
  edition.command('list')
    .description('list editions with their access and file counts')
    .action(run((ctx) => ctx.downloads.listEditions().map((e) => ({ edition: e.name, access: e.access, files: e.files })),
      (list) => list.length === 0 ? 'no editions' : list.map((e) => `${e.edition}\t${e.access}\t${e.files} files`).join('\n')))

  const token = program.command('token').description('manage Downloads Access Tokens')
  token.command('regenerate <username>')
    .description('issue a new Downloads Access Token for an account; the old one stops working at once')
    .action(async (username: string) => {
      await run((ctx) => {
        const account = ctx.accounts.get(username)
        return { mageId: account.mageId, token: ctx.downloads.regenerateToken(account.id).token }
      }, (r) => `MAGEID: ${r.mageId}\ntoken:  ${r.token}\nThe token is shown only now; the previous one no longer works.`)()
    })

  program.command('backup <dir>')
    .description('copy the database (SQLite online backup) and the archives into <dir> while the server keeps serving')
    .action(async (dir: string) => {
      await run((ctx) => backupDataDir({ db: ctx.db, store: ctx.store, dataDir: ctx.config.dataDir }, dir),
        (r) => `backed up ${r.packages} packages, ${r.versions} versions and ${r.archives} archives (${r.copied} new; ${r.bytes} bytes) to ${r.dir}`)()
    })
  return program
}

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string, engines: { node: string } }

/** A clear message instead of an obscure failure deep in a dependency on an old Node. */
export function unsupportedNode (version = process.versions.node): string | undefined {
  const wanted = packageJson.engines.node
  return semver.satisfies(version, wanted) ? undefined : `Packyard needs Node.js ${wanted}; this is ${version}`
}

/** Runs the CLI; returns the exit code. User errors are one line on stderr, never a stack trace. */
export async function main (argv: string[], io: Io = defaultIo): Promise<number> {
  const nodeProblem = unsupportedNode()
  if (nodeProblem !== undefined) {
    io.stderr(`packyard: ${nodeProblem}\n`)
    return 1
  }
  const program = buildCli(io)
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
