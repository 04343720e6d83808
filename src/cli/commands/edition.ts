import { parseAccess, type Cli } from '../kit.js'

export function registerEditionCommands ({ program, run }: Cli): void {
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
      (list) => list.length === 0 ? 'no editions' : list.map((e) => `${e.edition}\t${e.access}\t${e.files} files`).join('\n'), 'read'))
}
