-- The change counters the in-memory hot path validates its caches against (ARCHITECTURE.md,
-- "Caches and their invalidation"). Every write that can change an answer of the Composer
-- routes moves one of them, in the same transaction, whichever process or connection writes:
--   catalog:     which packages exist, their access and metadata, and grants;
--   credentials: which key pairs authenticate, and for which account.
-- Columns that change on every request (last_used_at, downloads) have no trigger, so
-- serving never invalidates its own caches.
ALTER TABLE catalog_revision ADD COLUMN credentials INTEGER NOT NULL DEFAULT 0;

-- A publish rewrites the package's prebuilt metadata and moves metadata_updated_at.
CREATE TRIGGER packages_metadata_changed AFTER UPDATE OF metadata_updated_at ON packages
BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;

CREATE TRIGGER access_keys_inserted AFTER INSERT ON access_keys
BEGIN UPDATE catalog_revision SET credentials = credentials + 1 WHERE id = 1; END;
CREATE TRIGGER access_keys_changed AFTER UPDATE OF account_id, public_key, private_key_hash, enabled ON access_keys
BEGIN UPDATE catalog_revision SET credentials = credentials + 1 WHERE id = 1; END;
-- Also fires for the keys an account deletion removes (ON DELETE CASCADE runs child triggers).
CREATE TRIGGER access_keys_deleted AFTER DELETE ON access_keys
BEGIN UPDATE catalog_revision SET credentials = credentials + 1 WHERE id = 1; END;
