import { PartialFailure, type Cli } from '../kit.js'
import type { SyncResult } from '../../services/mirror.js'

function age (iso: string | null): string {
  return iso === null ? 'never' : iso
}

export function registerUpstreamCommands ({ program, io, run }: Cli): void {
  const upstream = program.command('upstream').description('mirror upstream Composer repositories (repo.magento.com, packagist.org) through this server')
  upstream.command('add <name> <url>')
    .description('add an upstream; credentials come from PACKYARD_UPSTREAM_AUTH_FILE (auth.json format), never from the URL')
    .option('--mode <mode>', 'lazy (names fetched when first asked for) or approved (only approved names)', 'lazy')
    .option('--access <access>', 'all (every account) or granted (accounts granted upstream:<name>)', 'all')
    .option('--patterns <patterns>', 'comma-separated vendor patterns a lazy upstream serves (e.g. "magento/*,laminas/*", or "*"); default: from the upstream\'s available-packages')
    .action(async (name: string, url: string, o: { mode: string, access: string, patterns?: string }) => {
      await run((ctx) => ctx.mirror.add({ name, url, mode: o.mode, access: o.access, patterns: o.patterns?.split(',') }),
        (u) => `added upstream ${u.name}: ${u.url} (${u.mode}, access ${u.access})`)()
    })
  upstream.command('list')
    .description('upstreams with their health: last success, last error, packages and archives cached')
    .action(async () => {
      await run((ctx) => ctx.mirror.list(),
        (list) => list.length === 0
          ? 'no upstreams'
          : list.map((u) => [
            `${u.name}\t${u.url}\t${u.mode}\taccess ${u.access}\tpatterns ${u.patterns.join(',') || '-'}`,
            `  ${u.packages} package(s), ${u.versions} version(s), ${u.archives} archive(s) cached; last success ${age(u.lastSuccessAt)}` +
              (u.lastError === null ? '' : `; last error ${age(u.lastErrorAt)}: ${u.lastError}`)
          ].join('\n')).join('\n'), 'read')()
    })
  upstream.command('remove <name>')
    .description('remove an upstream and its mirrored metadata (archive files stay until pruned)')
    .action(async (name: string) => {
      await run((ctx) => ctx.mirror.remove(name), (r) => `removed upstream ${r.name}`)()
    })
  for (const [verb, approved] of [['approve', true], ['unapprove', false]] as const) {
    upstream.command(`${verb} <name> <package>`)
      .description(approved ? 'serve this package from the upstream (approved mode)' : 'stop serving this package from the upstream')
      .action(async (name: string, pkg: string) => {
        await run((ctx) => ctx.mirror.approve(name, pkg, approved),
          (r) => `${r.package} ${r.approved ? 'is now served' : 'is no longer served'} from upstream ${r.upstream}`)()
      })
  }
  upstream.command('sync [name]')
    .description('refresh the metadata of every approved or already mirrored package now; exits 1 when anything failed')
    .action(async (name: string | undefined) => {
      let results: SyncResult[] = []
      await run(async (ctx) => (results = await ctx.mirror.sync(name)),
        (list) => list.map((r) => `${r.upstream}: ${r.packages} package(s) checked, ${r.updated} updated` +
          (r.ok ? '' : `, ${r.errors.length} failure(s)`)).join('\n'))()
      // What could be synced was; each failure is one line on stderr, and the exit code says so.
      const failures = results.flatMap((r) => r.errors.map((e) => `upstream ${r.upstream}: ${e}`))
      for (const line of failures) io.stderr(`packyard: ${line}\n`)
      if (failures.length > 0) throw new PartialFailure(`${failures.length} sync failure(s)`)
    })
}
