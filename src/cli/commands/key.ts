import type { AccessKey } from '../../domain/accounts.js'
import { keyView as adminKeyView } from '../../domain/account-views.js'
import type { Cli } from '../kit.js'

function keyView (k: AccessKey) {
  return { name: k.name, publicKey: k.publicKey, enabled: k.enabled, createdAt: k.createdAt, lastUsedAt: k.lastUsedAt }
}

export function registerKeyCommands ({ program, io, run }: Cli): void {
  const key = program.command('key').description('manage access keys')
  key.command('create <username>')
    .description('create a named access key pair')
    .requiredOption('--name <name>', 'what the key is for (a developer, a CI system, …)')
    .action(async (username: string, o: { name: string }) => {
      await run((ctx) => {
        const issued = ctx.keys.create(ctx.accounts.get(username).id, o.name)
        return { name: issued.key.name, publicKey: issued.key.publicKey, privateKey: issued.privateKey, enabled: true }
      }, (k) => `created key "${k.name}"\npublic key:  ${k.publicKey}\nprivate key: ${k.privateKey}\nThe private key is shown only now; store it in auth.json.`)()
    })
  key.command('import <username>')
    .description('add an existing key pair (e.g. Magento Marketplace keys); the private key is read from standard input')
    .requiredOption('--name <name>', 'what the key is for')
    .requiredOption('--public-key <publicKey>', 'the public key: 32 lowercase hexadecimal characters')
    .action(async (username: string, o: { name: string, publicKey: string }) => {
      const privateKey = (await io.stdin()).trim()
      await run((ctx) => {
        const account = ctx.accounts.get(username)
        return adminKeyView(ctx.keys.import(account.id, o.name, o.publicKey, privateKey), account.username)
      }, (k) => `imported key "${k.name}" (${k.publicKey}) for ${k.username}`)()
    })
  key.command('list <username>')
    .description('list an account\'s access keys (never the private keys)')
    .action(async (username: string) => {
      await run((ctx) => ctx.keys.list(ctx.accounts.get(username).id).map(keyView),
        (list) => list.length === 0 ? 'no keys' : list.map((k) => `${k.publicKey}\t${k.enabled ? 'enabled ' : 'disabled'}\t${k.name}\tlast used ${k.lastUsedAt ?? 'never'}`).join('\n'), 'read')()
    })
  key.command('rename <publicKey> <newName>')
    .description('rename a key')
    .action(async (publicKey: string, newName: string) => {
      await run((ctx) => { const k = ctx.keys.rename(publicKey, newName); return { name: k.name, publicKey: k.publicKey } },
        (k) => `renamed ${k.publicKey} to "${k.name}"`)()
    })
  key.command('regenerate <publicKey>')
    .description('replace a key pair with a new one; the old pair stops working at once')
    .action(async (publicKey: string) => {
      await run((ctx) => { const r = ctx.keys.regenerate(publicKey); return { name: r.key.name, publicKey: r.key.publicKey, privateKey: r.privateKey } },
        (k) => `regenerated key "${k.name}"\npublic key:  ${k.publicKey}\nprivate key: ${k.privateKey}\nThe old pair no longer works.`)()
    })
  for (const [verb, enabled] of [['disable', false], ['enable', true]] as const) {
    key.command(`${verb} <publicKey>`)
      .description(`${verb} a key`)
      .action(async (publicKey: string) => {
        await run((ctx) => { const k = ctx.keys.setEnabled(publicKey, enabled); return { publicKey: k.publicKey, enabled: k.enabled } },
          (k) => `${k.publicKey} ${k.enabled ? 'enabled' : 'disabled'}`)()
      })
  }
  key.command('delete <publicKey>')
    .description('delete a key')
    .action(async (publicKey: string) => {
      await run((ctx) => { const k = ctx.keys.delete(publicKey); return { publicKey: k.publicKey, deleted: true } },
        (k) => `deleted ${k.publicKey}`)()
    })
}
