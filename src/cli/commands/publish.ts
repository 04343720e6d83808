import { Option } from 'commander'
import cliProgress from 'cli-progress'
import path from 'node:path'
import { isPackyardError } from '../../errors.js'
import { parseAccess, PartialFailure, UserError, type Cli } from '../kit.js'

export function registerPublishCommand ({ program, io, globals, openContext }: Cli): void {
  program.command('publish <archives...>')
    .description('publish zip archives (composer.json at the root or in one top-level folder)')
    .addOption(new Option('--access <access>', 'access for a new package (default restricted)').choices(['public', 'restricted']))
    .option('--version <version>', 'version to publish (default: "version" in composer.json)')
    .action(async (archives: string[], o: { access?: string, version?: string }) => {
      const g = globals()
      if (o.version !== undefined && archives.length > 1) throw new UserError('--version applies to one archive; publish archives one at a time with it')
      const access = o.access === undefined ? undefined : parseAccess(o.access)
      const ctx = openContext(g.config(), 'write')
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
            const r = await ctx.catalog.publish(path.resolve(io.cwd, file), { access, version: o.version })
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
}
