import type { Cli } from '../kit.js'
import type { Advisory } from '../../domain/catalog.js'

const line = (a: Advisory): string =>
  `${a.advisoryId}\t${a.packageName}\t${a.affectedVersions}\t${a.severity ?? '-'}\t${a.cve ?? '-'}\t${a.title}`

export function registerAdvisoryCommands ({ program, run }: Cli): void {
  const advisory = program.command('advisory').description('security advisories reported by `composer audit`')
  advisory.command('add <package>')
    .description('publish an advisory for the versions of a package matching a constraint')
    .requiredOption('--affected <constraint>', 'the affected versions as a Composer constraint, e.g. ">=1.0,<1.4.2"')
    .requiredOption('--title <title>', 'what is wrong, in one line')
    .option('--cve <id>', 'the CVE identifier, e.g. CVE-2026-12345')
    .option('--link <url>', 'where to read more')
    .option('--severity <severity>', 'low, medium, high or critical')
    .action(async (name: string, opts: { affected: string, title: string, cve?: string, link?: string, severity?: string }) => {
      await run((ctx) => ctx.advisories.add({ package: name, affectedVersions: opts.affected, title: opts.title, cve: opts.cve, link: opts.link, severity: opts.severity }),
        (a) => `added ${a.advisoryId} for ${a.packageName} ${a.affectedVersions}`)()
    })
  advisory.command('list')
    .description('list advisories')
    .action(run((ctx) => ctx.advisories.list(), (list) => list.length === 0 ? 'no advisories' : list.map(line).join('\n'), 'read'))
  advisory.command('remove <id>')
    .description('remove an advisory (its number or PACKYARD-<number>)')
    .action(async (id: string) => {
      await run((ctx) => ctx.advisories.remove(id), (a) => `removed ${a.advisoryId} (${a.packageName})`)()
    })
}
