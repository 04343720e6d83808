import type { Db } from '../db/database.js'

export interface WebhookRecord {
  id: number
  url: string
  events: string[]
  secretSalt: Buffer
  keyId: Buffer
  createdAt: string
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed'

export interface DeliveryRecord {
  id: number
  deliveryId: string
  webhookId: number
  event: string
  payload: string
  createdAt: string
  status: DeliveryStatus
  attempts: number
  nextAttemptAt: number
  deliveredAt: string | null
  lastStatus: number | null
  lastError: string | null
}

interface WebhookRow { id: number, url: string, events: string, secret_salt: Buffer, key_id: Buffer, created_at: string }
interface DeliveryRow {
  id: number
  delivery_id: string
  webhook_id: number
  event: string
  payload: string
  created_at: string
  status: DeliveryStatus
  attempts: number
  next_attempt_at: number
  delivered_at: string | null
  last_status: number | null
  last_error: string | null
}

const toWebhook = (r: WebhookRow): WebhookRecord => ({
  id: r.id, url: r.url, events: JSON.parse(r.events) as string[], secretSalt: r.secret_salt, keyId: r.key_id, createdAt: r.created_at
})
const toDelivery = (r: DeliveryRow): DeliveryRecord => ({
  id: r.id,
  deliveryId: r.delivery_id,
  webhookId: r.webhook_id,
  event: r.event,
  payload: r.payload,
  createdAt: r.created_at,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  deliveredAt: r.delivered_at,
  lastStatus: r.last_status,
  lastError: r.last_error
})

const WEBHOOK_COLUMNS = 'id, url, events, secret_salt, key_id, created_at'
const DELIVERY_COLUMNS = 'id, delivery_id, webhook_id, event, payload, created_at, status, attempts, next_attempt_at, delivered_at, last_status, last_error'

export function createWebhooksRepository (db: Db) {
  const insert = db.prepare<[string, string, Buffer, Buffer, string], void>(
    'INSERT INTO webhooks (url, events, secret_salt, key_id, created_at) VALUES (?, ?, ?, ?, ?)')
  const byId = db.prepare<[number], WebhookRow>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?`)
  const all = db.prepare<[], WebhookRow>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks ORDER BY id`)
  const remove = db.prepare<[number], void>('DELETE FROM webhooks WHERE id = ?')
  // One row per webhook subscribed to the event, in one statement inside the caller's transaction.
  const enqueue = db.prepare<{ event: string, payload: string, now: string, due: number }, void>(`
    INSERT INTO webhook_deliveries (delivery_id, webhook_id, event, payload, created_at, next_attempt_at)
    SELECT lower(hex(randomblob(16))), w.id, @event, @payload, @now, @due FROM webhooks w
    WHERE EXISTS (SELECT 1 FROM json_each(w.events) WHERE json_each.value = @event)`)
  const due = db.prepare<[number, number, number], { id: number }>(`
    SELECT id FROM webhook_deliveries
    WHERE status = 'pending' AND next_attempt_at <= ? AND (locked_until IS NULL OR locked_until < ?)
    ORDER BY next_attempt_at, id LIMIT ?`)
  const claim = db.prepare<[number, number, number], void>(`
    UPDATE webhook_deliveries SET locked_until = ?
    WHERE id = ? AND status = 'pending' AND (locked_until IS NULL OR locked_until < ?)`)
  const deliveryById = db.prepare<[number], DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ?`)
  const markDelivered = db.prepare<[string, number, number], void>(`
    UPDATE webhook_deliveries SET status = 'delivered', delivered_at = ?, attempts = attempts + 1,
      last_status = ?, last_error = NULL, locked_until = NULL WHERE id = ?`)
  const markFailed = db.prepare<{ id: number, status: DeliveryStatus, next: number, lastStatus: number | null, error: string }, void>(`
    UPDATE webhook_deliveries SET status = @status, attempts = attempts + 1, next_attempt_at = @next,
      last_status = @lastStatus, last_error = @error, locked_until = NULL WHERE id = @id`)
  const release = db.prepare<[number], void>('UPDATE webhook_deliveries SET locked_until = NULL WHERE id = ?')
  const byWebhook = db.prepare<[number, number], DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?`)

  return {
    insert (url: string, events: string[], secretSalt: Buffer, keyId: Buffer): WebhookRecord {
      const info = insert.run(url, JSON.stringify(events), secretSalt, keyId, new Date().toISOString())
      return toWebhook(byId.get(Number(info.lastInsertRowid))!)
    },
    find (id: number): WebhookRecord | undefined {
      const r = byId.get(id)
      return r === undefined ? undefined : toWebhook(r)
    },
    list (): WebhookRecord[] {
      return all.all().map(toWebhook)
    },
    /** Removes the webhook and its deliveries; false when there was none. */
    remove (id: number): boolean {
      return remove.run(id).changes > 0
    },
    /** How many deliveries were queued. */
    enqueue (event: string, payload: unknown, now: Date): number {
      return enqueue.run({ event, payload: JSON.stringify(payload), now: now.toISOString(), due: now.getTime() }).changes
    },
    /**
     * Claims up to `limit` due deliveries until `lockUntil`: a row is only returned when this
     * call's conditional update took it, so two workers (or processes) never send the same row.
     */
    claimDue (now: number, lockUntil: number, limit: number): DeliveryRecord[] {
      const claimed: DeliveryRecord[] = []
      for (const { id } of due.all(now, now, limit)) {
        if (claim.run(lockUntil, id, now).changes === 1) claimed.push(toDelivery(deliveryById.get(id)!))
      }
      return claimed
    },
    markDelivered (id: number, status: number): void {
      markDelivered.run(new Date().toISOString(), status, id)
    },
    /** A failed attempt: retried at `next`, or given up when `giveUp`. */
    markFailed (id: number, input: { giveUp: boolean, next: number, lastStatus: number | null, error: string }): void {
      markFailed.run({ id, status: input.giveUp ? 'failed' : 'pending', next: input.next, lastStatus: input.lastStatus, error: input.error.slice(0, 500) })
    },
    /** Gives a claimed row back without counting an attempt (the worker is stopping). */
    release (id: number): void {
      release.run(id)
    },
    deliveries (webhookId: number, limit: number): DeliveryRecord[] {
      return byWebhook.all(webhookId, limit).map(toDelivery)
    }
  }
}

export type WebhooksRepository = ReturnType<typeof createWebhooksRepository>
