import { parseAccess, UserError, type Cli } from '../kit.js'
import type { Abandoned } from '../../domain/catalog.js'

const abandonedLine = (r: { name: string, abandoned: Abandoned }): string =>
  r.abandoned === false ? `${r.name} is maintained` : `${r.name} is abandoned${r.abandoned === true ? '' : `; Composer suggests ${r.abandoned}`}`

export function registerPackageCommands ({ program, run }: Cli): void {
  const pkg = program.command('package').description('manage packages')
  pkg.command('list')
    .description('list packages with their access and versions')
    .action(run((ctx) => ctx.catalog.list(),
      (list) => list.length === 0 ? 'no packages' : list.map((p) => `${p.name}\t${p.access}\t${p.versions.join(', ')}`).join('\n'), 'read'))
  pkg.command('access <name> <access>')
    .description('make a package public (every account) or restricted (granted accounts only)')
    .action(async (name: string, access: string) => {
      await run((ctx) => { const p = ctx.catalog.setAccess(name, parseAccess(access)); return { name: p.name, access: p.access } },
        (p) => `${p.name} is now ${p.access}`)()
    })
  pkg.command('show <name>')
    .description('show a package: access, abandoned, and every version with downloads and yanked state')
    .action(async (name: string) => {
      await run((ctx) => ctx.catalog.describe(name),
        (p) => [`${p.name}\t${p.access}${p.abandoned === false ? '' : p.abandoned === true ? '\tabandoned' : `\tabandoned, use ${p.abandoned}`}`,
          ...p.versions.map((v) => `  ${v.version}\t${v.releasedAt}\t${v.downloads} downloads${v.yanked ? '\tyanked' : ''}`)].join('\n'), 'read')()
    })
  for (const [verb, yanked] of [['yank', true], ['unyank', false]] as const) {
    pkg.command(`${verb} <name> <version>`)
      .description(yanked
        ? 'take a version out of the metadata (no new resolve picks it); its archive stays downloadable for lock files'
        : 'put a yanked version back into the metadata')
      .action(async (name: string, version: string) => {
        await run((ctx) => yanked ? ctx.catalog.yank(name, version) : ctx.catalog.unyank(name, version),
          (r) => `${r.name} ${r.version} is ${r.yanked ? 'yanked: left out of the metadata, archive kept' : 'listed again'}`)()
      })
  }
  pkg.command('abandon <name>')
    .description('mark a package abandoned: Composer warns on install and names the replacement')
    .option('--replacement <package>', 'the package to use instead')
    .option('--undo', 'mark the package maintained again')
    .action(async (name: string, opts: { replacement?: string, undo?: boolean }) => {
      if (opts.undo === true && opts.replacement !== undefined) throw new UserError('--undo and --replacement exclude each other')
      await run((ctx) => ctx.catalog.setAbandoned(name, opts.undo === true ? false : opts.replacement ?? true), abandonedLine)()
    })
  pkg.command('unabandon <name>')
    .description('mark an abandoned package maintained again')
    .action(async (name: string) => {
      await run((ctx) => ctx.catalog.setAbandoned(name, false), abandonedLine)()
    })
}
