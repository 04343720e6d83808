-- Webhooks and their transactional outbox: a change and the deliveries it causes commit
-- in one transaction, whichever process makes it; the server's worker sends them.
CREATE TABLE webhooks (
  id INTEGER PRIMARY KEY,
  url TEXT NOT NULL,
  -- JSON array of event names.
  events TEXT NOT NULL,
  -- The signing secret is derived from the installation's webhook key file and this salt
  -- (src/services/webhooks.ts): the database alone never holds it.
  secret_salt BLOB NOT NULL,
  -- First bytes of SHA-256 of the key file the secret was derived from, so a replaced
  -- key file is reported instead of silently signing with another secret.
  key_id BLOB NOT NULL,
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE webhook_deliveries (
  id INTEGER PRIMARY KEY,
  -- Sent as Packyard-Delivery; the same on every retry so receivers can deduplicate.
  delivery_id TEXT NOT NULL UNIQUE,
  webhook_id INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  event TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  -- Unix milliseconds.
  next_attempt_at INTEGER NOT NULL,
  -- A worker's claim (Unix milliseconds): no other worker sends the row before it passes.
  locked_until INTEGER,
  delivered_at TEXT,
  last_status INTEGER,
  last_error TEXT
) STRICT;
-- The worker's poll reads only pending rows.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);
