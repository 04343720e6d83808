import type { Cli } from '../kit.js'

export function registerTokenCommands ({ program, run }: Cli): void {
  const token = program.command('token').description('manage Downloads Access Tokens')
  token.command('regenerate <username>')
    .description('issue a new Downloads Access Token for an account; the old one stops working at once')
    .action(async (username: string) => {
      await run((ctx) => {
        const account = ctx.accounts.get(username)
        return { mageId: account.mageId, token: ctx.downloads.regenerateToken(account.id).token }
      }, (r) => `MAGEID: ${r.mageId}\ntoken:  ${r.token}\nThe token is shown only now; the previous one no longer works.`)()
    })
}
