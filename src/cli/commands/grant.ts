import type { Cli } from '../kit.js'
import type { GrantResult } from '../../services/grants.js'
import { describeRule } from '../../services/grant-rules.js'

interface RuleOptions { constraint?: string, updatesUntil?: string, minimumStability?: string }

function human (r: GrantResult): string {
  if ('edition' in r) return `${r.username} ${r.granted ? 'may now download' : 'may no longer download'} the ${r.edition} release files`
  const target = 'package' in r ? r.package : r.vendor
  if (!r.granted) return `${r.username} may no longer install ${target}`
  return `${r.username} may now install ${target} (${r.rule === null ? 'all versions' : describeRule(r.rule)})`
}

/** `grant <user> upstream:<name>`: an upstream added with --access granted (services/mirror.ts). */
const UPSTREAM_PREFIX = 'upstream:'
async function upstreamGrant (run: Cli['run'], username: string, target: string, granted: boolean): Promise<void> {
  await run((ctx) => ctx.mirror.grant(username, target.slice(UPSTREAM_PREFIX.length), granted),
    (r) => `${r.username} ${r.granted ? 'may now install' : 'may no longer install'} packages from upstream ${r.upstream}`)()
}

export function registerGrantCommands ({ program, run }: Cli): void {
  program.command('grant <username> <target>')
    .description('give an account access to a restricted package (vendor/name), every package of a vendor (vendor/*) or a release edition; granting again replaces the limits')
    .option('--constraint <constraint>', 'only versions matching this Composer constraint, e.g. ^2.0 or ">=1.0 <3.0"')
    .option('--updates-until <date>', 'only versions published on this server until then: YYYY-MM-DD (end of that day, UTC) or an ISO-8601 date-time')
    .option('--minimum-stability <stability>', 'only versions at least this stable: stable, RC, beta, alpha or dev')
    .action(async (username: string, target: string, opts: RuleOptions) => {
      if (target.startsWith(UPSTREAM_PREFIX)) return await upstreamGrant(run, username, target, true)
      await run((ctx) => ctx.grants.grant(username, target, opts), human)()
    })
  program.command('revoke <username> <target>')
    .description('take a package, vendor/* or edition grant back')
    .action(async (username: string, target: string) => {
      if (target.startsWith(UPSTREAM_PREFIX)) return await upstreamGrant(run, username, target, false)
      await run((ctx) => ctx.grants.revoke(username, target), human)()
    })
  program.command('grants <username>')
    .description('list an account\'s package and vendor/* grants with their limits, and its release edition grants')
    .action(async (username: string) => {
      await run((ctx) => ctx.grants.list(username),
        (r) => r.grants.length === 0 && r.editions.length === 0
          ? `${r.username} has no grants`
          : [...r.grants.map((g) => `${g.target}\t${describeRule(g.rule)}`), ...r.editions.map((e) => `${e.edition}\trelease files (edition)`)].join('\n'), 'read')()
    })
}
