import { createHash, createHmac, randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import path from 'node:path'
import type { WebhookRecord, WebhooksRepository } from '../repositories/webhooks.js'
import { errors } from '../errors.js'
import { parseRevealKey } from './key-vault.js'
import { BlockedAddressError, checkPublicHost } from './webhook-guard.js'
import { startWebhookWorker, type WebhookWorker, type WorkerOptions } from './webhook-delivery.js'

export const WEBHOOK_EVENTS = [
  'package.published', 'package.yanked', 'package.access_changed', 'grant.changed',
  'account.created', 'account.disabled',
  'key.created', 'key.regenerated', 'key.disabled', 'key.enabled', 'key.deleted'
] as const

export type WebhookEvent = typeof WEBHOOK_EVENTS[number]

/** Queues an event for every subscribed webhook. Call it inside the transaction of the change. */
export type Emit = (event: WebhookEvent, payload: Record<string, unknown>) => void

export interface WebhookView { id: number, url: string, events: string[], createdAt: string }

const URL_MAX = 2000
const KEY_ID_BYTES = 8
const DELIVERIES_SHOWN = 100

/**
 * The installation's webhook key: 32 random bytes in a file (mode 0600) created on first use.
 * Written to a temp file and hard-linked into place, so two processes creating it at once
 * agree on one key and nobody reads a half-written file.
 */
function loadOrCreateKey (file: string): Buffer {
  const read = (): Buffer | undefined => {
    let raw: Buffer
    try {
      raw = readFileSync(file)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw errors.badRequest(`cannot read the webhook key file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
    const key = parseRevealKey(raw)
    if (key === undefined) throw errors.badRequest(`the webhook key file ${file} must hold 32 bytes: raw, 64 hex characters or base64`)
    return key
  }
  const existing = read()
  if (existing !== undefined) return existing
  mkdirSync(path.dirname(file), { recursive: true })
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  const fd = openSync(temp, 'wx', 0o600)
  try {
    writeSync(fd, randomBytes(32).toString('hex') + '\n')
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  try {
    linkSync(temp, file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    unlinkSync(temp)
  }
  return read()!
}

function parseUrl (input: string): URL {
  let url: URL
  try {
    url = new URL(input)
  } catch {
    throw errors.badRequest(`invalid webhook URL "${input}": use an absolute http or https URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw errors.badRequest(`invalid webhook URL "${input}": use http or https`)
  // Listings show the URL; a receiver authenticates deliveries by their signature instead.
  if (url.username !== '' || url.password !== '') throw errors.badRequest('invalid webhook URL: no credentials in the URL (check Packyard-Signature instead)')
  if (url.href.length > URL_MAX) throw errors.badRequest(`invalid webhook URL: at most ${URL_MAX} characters`)
  url.hash = ''
  return url
}

function parseEvents (events: string[]): WebhookEvent[] {
  if (events.length === 0) throw errors.badRequest(`name at least one event: ${WEBHOOK_EVENTS.join(', ')}`)
  for (const e of events) {
    if (!(WEBHOOK_EVENTS as readonly string[]).includes(e)) throw errors.badRequest(`unknown event "${e}": use ${WEBHOOK_EVENTS.join(', ')}`)
  }
  return [...new Set(events)] as WebhookEvent[]
}

const view = (w: WebhookRecord): WebhookView => ({ id: w.id, url: w.url, events: w.events, createdAt: w.createdAt })

/**
 * Webhooks and their outbox. The signing secret is never stored: it is HMAC-SHA256 of a
 * per-webhook random salt (in the database) under the installation's webhook key (a file in
 * the data directory), so neither the database nor a copy of it can sign on its own.
 */
export function createWebhookService (deps: { webhooks: WebhooksRepository, keyFile: string, allowPrivate: boolean }) {
  const { webhooks, keyFile, allowPrivate } = deps
  let key: Buffer | undefined
  const installationKey = (): Buffer => (key ??= loadOrCreateKey(keyFile))
  const keyIdOf = (k: Buffer): Buffer => createHash('sha256').update(k).digest().subarray(0, KEY_ID_BYTES)

  function secretOf (hook: WebhookRecord): string {
    const k = installationKey()
    if (!keyIdOf(k).equals(hook.keyId)) {
      throw errors.conflict(`the webhook key file ${keyFile} is not the one webhook ${hook.id} was created with; restore that file or re-create the webhook`)
    }
    return createHmac('sha256', k).update(hook.secretSalt).digest('hex')
  }

  function get (id: number): WebhookRecord {
    const hook = Number.isSafeInteger(id) ? webhooks.find(id) : undefined
    if (hook === undefined) throw errors.notFound(`webhook ${id}`)
    return hook
  }

  return {
    async create (input: { url: string, events: string[] }): Promise<WebhookView & { secret: string }> {
      const url = parseUrl(input.url)
      const events = parseEvents(input.events)
      if (!allowPrivate) {
        try {
          await checkPublicHost(url)
        } catch (err) {
          if (err instanceof BlockedAddressError) throw errors.badRequest(`webhook URL refused: ${err.message}`)
          throw errors.badRequest(`webhook URL refused: cannot resolve ${url.hostname} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
        }
      }
      const k = installationKey()
      const hook = webhooks.insert(url.href, events, randomBytes(16), keyIdOf(k))
      return { ...view(hook), secret: secretOf(hook) }
    },
    list: (): WebhookView[] => webhooks.list().map(view),
    get: (id: number): WebhookView => view(get(id)),
    remove (id: number): WebhookView {
      const hook = get(id)
      webhooks.remove(id)
      return view(hook)
    },
    /** The newest deliveries of a webhook, for the operator to see what was sent and what failed. */
    deliveries (id: number) {
      get(id)
      return webhooks.deliveries(id, DELIVERIES_SHOWN).map((d) => ({
        id: d.deliveryId,
        event: d.event,
        status: d.status,
        attempts: d.attempts,
        createdAt: d.createdAt,
        deliveredAt: d.deliveredAt,
        nextAttemptAt: d.status === 'pending' ? new Date(d.nextAttemptAt).toISOString() : null,
        lastStatus: d.lastStatus,
        lastError: d.lastError
      }))
    },
    emit: ((event, payload) => { webhooks.enqueue(event, payload, new Date()) }) satisfies Emit,
    /** The server's delivery worker; stop it before the database closes. */
    startWorker: (opts: WorkerOptions): WebhookWorker => startWebhookWorker({ ...opts, webhooks, secretOf, allowPrivate })
  }
}

export type WebhookService = ReturnType<typeof createWebhookService>
