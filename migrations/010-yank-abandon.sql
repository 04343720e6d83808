-- Yanked versions leave the metadata (no new resolve picks them) but keep their archive for
-- lock files that name them. Abandoned packages carry Composer's `abandoned` field.
-- Both change the stored p2 documents, which are rebuilt in the same transaction and move
-- metadata_updated_at, and with it the catalog counter (004-change-counters.sql).
ALTER TABLE versions ADD COLUMN yanked_at TEXT;
-- NULL: maintained; '': abandoned with no replacement; otherwise the replacement package's name.
ALTER TABLE packages ADD COLUMN abandoned TEXT;
