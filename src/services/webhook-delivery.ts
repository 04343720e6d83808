import { createHmac } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import type { DeliveryRecord, WebhookRecord, WebhooksRepository } from '../repositories/webhooks.js'
import { BlockedAddressError, guardedLookup, isPrivateAddress, literalAddress } from './webhook-guard.js'

export interface WorkerOptions {
  log: { info: (obj: object, msg: string) => void, warn: (obj: object, msg: string) => void, error: (obj: object, msg: string) => void }
  /** How often the outbox is read for due deliveries. */
  pollMs: number
  /** How long one delivery may take before it counts as failed. */
  timeoutMs: number
  /** Delay before the first retry; it doubles after each failed attempt. */
  backoffMs: number
  maxAttempts: number
}

export interface WebhookWorker {
  /** Stops polling and waits for the deliveries in flight (bounded by the timeout). */
  stop: () => Promise<void>
}

/** Deliveries in flight at once, per worker. */
const CONCURRENCY = 16
/** A claim outlives the request it covers, so it never expires while that request can still succeed. */
const CLAIM_MARGIN_MS = 30_000
const USER_AGENT = 'Packyard-Webhook/1'

export function signBody (secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}

/** The JSON body: the same bytes on every attempt, so the signature and Packyard-Delivery stay stable. */
export function deliveryBody (d: DeliveryRecord): string {
  return JSON.stringify({ id: d.deliveryId, event: d.event, createdAt: d.createdAt, data: JSON.parse(d.payload) as unknown })
}

/**
 * POSTs the body and resolves with the status code. node:http rather than fetch: its `lookup`
 * hook lets the SSRF guard check the very address that is connected to, and it never follows
 * a redirect (which could point anywhere).
 */
function post (target: string, body: string, headers: Record<string, string>, signal: AbortSignal, allowPrivate: boolean): Promise<number> {
  const url = new URL(target)
  const literal = literalAddress(url)
  if (!allowPrivate && literal !== undefined && isPrivateAddress(literal)) return Promise.reject(new BlockedAddressError(url.hostname, literal))
  const client = url.protocol === 'https:' ? https : http
  return new Promise((resolve, reject) => {
    const req = client.request(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': USER_AGENT },
      signal,
      ...(allowPrivate ? {} : { lookup: guardedLookup })
    }, (res) => {
      res.resume()
      res.on('end', () => { resolve(res.statusCode ?? 0) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/**
 * Sends the outbox: every `pollMs` it claims due rows (a conditional update, so two workers or
 * processes never send one row at once), POSTs each, and records the outcome at once: a 2xx
 * marks the row delivered and it is never sent again; anything else schedules a retry after
 * backoffMs × 2^(attempts − 1), until maxAttempts. All state is in the database, so a restart
 * resumes where the last process stopped.
 */
export function startWebhookWorker (deps: WorkerOptions & {
  webhooks: WebhooksRepository
  secretOf: (hook: WebhookRecord) => string
  allowPrivate: boolean
}): WebhookWorker {
  const { webhooks, log } = deps
  const stopping = new AbortController()
  const inFlight = new Set<Promise<void>>()
  let polling = false

  function failed (d: DeliveryRecord, lastStatus: number | null, error: string): void {
    const attempts = d.attempts + 1
    const giveUp = attempts >= deps.maxAttempts
    const next = Date.now() + deps.backoffMs * 2 ** (attempts - 1)
    webhooks.markFailed(d.id, { giveUp, next, lastStatus, error })
    const fields = { webhookId: d.webhookId, delivery: d.deliveryId, event: d.event, attempts, status: lastStatus, error }
    if (giveUp) log.error(fields, 'webhook delivery failed; giving up')
    else log.warn({ ...fields, retryAt: new Date(next).toISOString() }, 'webhook delivery failed; will retry')
  }

  async function deliver (d: DeliveryRecord): Promise<void> {
    const hook = webhooks.find(d.webhookId)
    if (hook === undefined) return // removed meanwhile; its deliveries went with it
    let status: number
    try {
      const body = deliveryBody(d)
      const headers = { 'packyard-event': d.event, 'packyard-delivery': d.deliveryId, 'packyard-signature': signBody(deps.secretOf(hook), body) }
      status = await post(hook.url, body, headers, AbortSignal.any([stopping.signal, AbortSignal.timeout(deps.timeoutMs)]), deps.allowPrivate)
    } catch (err) {
      if (stopping.signal.aborted) {
        webhooks.release(d.id)
        return
      }
      const e = err as Error
      failed(d, null, e.name === 'TimeoutError' || e.name === 'AbortError' ? `timed out after ${deps.timeoutMs} ms` : e.message)
      return
    }
    if (status >= 200 && status < 300) {
      webhooks.markDelivered(d.id, status)
      log.info({ webhookId: d.webhookId, delivery: d.deliveryId, event: d.event, status }, 'webhook delivered')
    } else {
      failed(d, status, `HTTP ${status}`)
    }
  }

  function poll (): void {
    if (polling || stopping.signal.aborted || inFlight.size >= CONCURRENCY) return
    polling = true
    try {
      const now = Date.now()
      for (const d of webhooks.claimDue(now, now + deps.timeoutMs + CLAIM_MARGIN_MS, CONCURRENCY - inFlight.size)) {
        const p = deliver(d).catch((err: unknown) => { log.error({ err, delivery: d.deliveryId }, 'webhook delivery could not be recorded') })
          .finally(() => { inFlight.delete(p) })
        inFlight.add(p)
      }
    } catch (err) {
      log.error({ err }, 'webhook outbox could not be read')
    } finally {
      polling = false
    }
  }

  const timer = setInterval(poll, deps.pollMs)
  timer.unref()
  poll()

  return {
    async stop () {
      clearInterval(timer)
      stopping.abort()
      await Promise.all([...inFlight])
    }
  }
}
