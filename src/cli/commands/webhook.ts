import { UserError, type Cli } from '../kit.js'
import { WEBHOOK_EVENTS } from '../../services/webhooks.js'

function parseId (value: string): number {
  if (!/^[1-9]\d{0,15}$/.test(value)) throw new UserError(`invalid webhook id "${value}": use the number \`packyard webhook list\` shows`)
  return Number(value)
}

export function registerWebhookCommands ({ program, run }: Cli): void {
  const webhook = program.command('webhook').description('manage webhooks (signed JSON POSTs when packages, grants, accounts or keys change)')
  webhook.command('add <url>')
    .description('add a webhook; its signing secret is shown only once')
    .option('--event <event>', `an event to send (repeatable): ${WEBHOOK_EVENTS.join(', ')}`,
      (value: string, previous: string[]) => [...previous, value], [] as string[])
    .action(async (url: string, o: { event: string[] }) => {
      await run((ctx) => ctx.webhooks.create({ url, events: o.event }).then((w) => ({ id: w.id, url: w.url, events: w.events, secret: w.secret })),
        (w) => `added webhook ${w.id}: ${w.url} (${w.events.join(', ')})\nsecret: ${w.secret}\nThe secret is shown only now; the receiver checks Packyard-Signature with it.`)()
    })
  webhook.command('list')
    .description('list webhooks (never their secrets)')
    .action(async () => {
      await run((ctx) => ctx.webhooks.list(),
        (list) => list.length === 0 ? 'no webhooks' : list.map((w) => `${w.id}\t${w.url}\t${w.events.join(',')}`).join('\n'), 'read')()
    })
  webhook.command('remove <id>')
    .description('remove a webhook and its pending deliveries')
    .action(async (id: string) => {
      await run((ctx) => { const w = ctx.webhooks.remove(parseId(id)); return { id: w.id, url: w.url, removed: true } },
        (w) => `removed webhook ${w.id} (${w.url})`)()
    })
  webhook.command('deliveries <id>')
    .description('the newest deliveries of a webhook: status, attempts, last error')
    .action(async (id: string) => {
      await run((ctx) => ctx.webhooks.deliveries(parseId(id)),
        (list) => list.length === 0
          ? 'no deliveries'
          : list.map((d) => `${d.createdAt}\t${d.event}\t${d.status}\t${d.attempts} attempt(s)${d.lastError === null ? '' : `\t${d.lastError}`}`).join('\n'), 'read')()
    })
}
