-- The prebuilt p2 documents (several KiB per package) move out of `packages` into a table of
-- their own. In `packages` they made every row span a page or more, so the queries that list
-- packages (the catalog at start, each account's entitlements) read the whole documents from
-- disk: on a cold page cache with 100,000 versions, about 40 MB before the first answer.
-- `packages` keeps what those queries need; a document is read when it is first served.
-- No trigger needed: a publish still moves packages.metadata_updated_at (004-change-counters.sql).
-- DROP COLUMN leaves `packages` as many pages as before; the VACUUM after this migration
-- (src/db/database.ts) rewrites it compactly.
-- packyard: vacuum
CREATE TABLE package_documents (
  package_id INTEGER PRIMARY KEY REFERENCES packages (id) ON DELETE CASCADE,
  metadata TEXT,
  metadata_dev TEXT
) STRICT;

INSERT INTO package_documents (package_id, metadata, metadata_dev)
  SELECT id, metadata, metadata_dev FROM packages;

ALTER TABLE packages DROP COLUMN metadata;
ALTER TABLE packages DROP COLUMN metadata_dev;
