import { accountView } from '../../domain/account-views.js'
import type { Cli } from '../kit.js'

export function registerAccountCommands ({ program, io, run }: Cli): void {
  const account = program.command('account').description('manage accounts')
  account.command('create <username>')
    .description('create an account')
    .option('--email <email>', 'contact email')
    .option('--password-stdin', 'read a password for the web pages from standard input')
    .action(async (username: string, o: { email?: string, passwordStdin?: boolean }) => {
      const password = o.passwordStdin === true ? (await io.stdin()).replace(/\r?\n$/, '') : undefined
      await run(async (ctx) => {
        const a = await ctx.accounts.create({ username, email: o.email, password })
        return { username: a.username, mageId: a.mageId }
      }, (a) => `created account ${a.username} (MAGEID ${a.mageId})`)()
    })
  account.command('list')
    .description('list accounts')
    .action(run((ctx) => ctx.accounts.list().map((a) => ({ username: a.username, mageId: a.mageId, email: a.email, createdAt: a.createdAt })),
      (list) => list.length === 0 ? 'no accounts' : list.map((a) => `${a.username}\t${a.mageId}\t${a.email ?? ''}`).join('\n'), 'read'))
  account.command('password <username>')
    .description('set the password for the web pages and the account API (read from standard input); signs the account out everywhere')
    .action(async (username: string) => {
      const password = (await io.stdin()).replace(/\r?\n$/, '')
      await run(async (ctx) => {
        const a = await ctx.accounts.setPassword(username, password)
        return { username: a.username, sessionsEnded: ctx.sessions.destroyAll(a.id) }
      }, (r) => `set the password of ${r.username} (${r.sessionsEnded} sessions ended)`)()
    })
  account.command('disable <username>')
    .description('suspend an account: its keys and downloads token are refused, it is signed out; nothing is deleted')
    .action(async (username: string) => {
      await run((ctx) => {
        const a = ctx.accounts.setDisabled(username, true)
        ctx.sessions.destroyAll(a.id)
        return accountView(a)
      }, (a) => `suspended account ${a.username}: its keys and downloads token are refused until \`packyard account enable ${a.username}\``)()
    })
  account.command('enable <username>')
    .description('restore a suspended account: its keys, grants and downloads token work again')
    .action(async (username: string) => {
      await run((ctx) => accountView(ctx.accounts.setDisabled(username, false)),
        (a) => `enabled account ${a.username}`)()
    })
  account.command('delete <username>')
    .description('delete an account with its keys, grants and downloads token (to keep them, use account disable)')
    .action(async (username: string) => {
      await run((ctx) => ({ username: ctx.accounts.delete(username).username, deleted: true }),
        (r) => `deleted account ${r.username} with its keys and grants`)()
    })
}
