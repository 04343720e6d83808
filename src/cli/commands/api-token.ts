import { Option } from 'commander'
import type { ApiToken } from '../../domain/api-tokens.js'
import type { Cli } from '../kit.js'

function tokenView (t: ApiToken) {
  return { name: t.name, scope: t.scope, packages: t.packages, createdAt: t.createdAt, lastUsedAt: t.lastUsedAt }
}

const packagesText = (packages: string[]): string => packages.length === 0 ? 'any package' : packages.join(', ')

export function registerApiTokenCommands ({ program, run }: Cli): void {
  const apiToken = program.command('api-token').description('manage operator API tokens (publishing over HTTP, automation)')
  apiToken.command('create <name>')
    .description('create an API token; it is shown only once')
    .addOption(new Option('--scope <scope>', 'admin (everything) or publish (uploads only)').choices(['admin', 'publish']).makeOptionMandatory())
    .option('--package <pattern>', 'a package a publish token may upload: vendor/name or vendor/* (repeatable; default any)',
      (value: string, previous: string[]) => [...previous, value], [] as string[])
    .action(async (name: string, o: { scope: string, package: string[] }) => {
      await run((ctx) => {
        const issued = ctx.apiTokens.create(name, o.scope, o.package)
        return { name: issued.token.name, scope: issued.token.scope, packages: issued.token.packages, token: issued.secret }
      }, (t) => `created API token "${t.name}" (scope ${t.scope}, ${packagesText(t.packages)})\ntoken: ${t.token}\nThe token is shown only now; store it in your CI secrets.`)()
    })
  apiToken.command('list')
    .description('list API tokens (never the tokens themselves)')
    .action(async () => {
      await run((ctx) => ctx.apiTokens.list().map(tokenView),
        (list) => list.length === 0 ? 'no API tokens' : list.map((t) => `${t.name}\t${t.scope}\t${packagesText(t.packages)}\tlast used ${t.lastUsedAt ?? 'never'}`).join('\n'), 'read')()
    })
  apiToken.command('revoke <name>')
    .description('revoke an API token; it stops working at once')
    .action(async (name: string) => {
      await run((ctx) => ({ name: ctx.apiTokens.revoke(name).name, revoked: true }), (r) => `revoked API token "${r.name}"`)()
    })
}
