import path from 'node:path'
import type { Cli } from '../kit.js'

export function registerReleaseCommands ({ program, io, run }: Cli): void {
  const release = program.command('release').description('manage release files served by the downloads API')
  release.command('add <file>')
    .description('add a release file (full download) for /products/downloads/')
    .requiredOption('--version <version>', 'the release version, e.g. 2.4.6-p3')
    .option('--edition <edition>', 'its edition, e.g. ce-full or ee-full (see `edition access`)')
    .option('--name <name>', 'file name to serve it under (default: the file\'s own name)')
    .action(async (file: string, o: { version: string, edition?: string, name?: string }) => {
      await run(async (ctx) => {
        const r = await ctx.downloads.addRelease(path.resolve(io.cwd, file), { version: o.version, edition: o.edition, name: o.name })
        return { file: r.file, version: r.version, edition: r.edition }
      }, (r) => `added ${r.file} (version ${r.version}${r.edition === null ? '' : `, edition ${r.edition}`})`)()
    })
  release.command('list')
    .description('list release files, newest version first')
    .action(run((ctx) => ctx.downloads.list().map((r) => ({ file: r.fileName, version: r.version, edition: r.edition, size: r.size, sha256: r.sha256, md5: r.md5, createdAt: r.createdAt })),
      (list) => list.length === 0 ? 'no release files' : list.map((r) => `${r.version}\t${r.edition ?? '-'}\t${r.size}\t${r.file}`).join('\n'), 'read'))
}
