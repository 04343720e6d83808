import { parseAccess, type Cli } from '../kit.js'

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
}
