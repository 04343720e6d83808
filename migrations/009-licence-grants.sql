-- Licence-shaped grants: a grant may limit the versions it opens by a Composer constraint, by
-- the server's publish time (updates until a moment) and by a minimum stability; all given
-- parts must hold. NULL: no limit of that kind. A grant may also name a whole vendor
-- (`vendor/*`, every package of that vendor, present and future); an exact grant wins over it.
ALTER TABLE grants ADD COLUMN version_constraint TEXT;
-- ISO-8601 instant (UTC) the grant's updates end at; versions released after it are not included.
ALTER TABLE grants ADD COLUMN updates_until TEXT;
ALTER TABLE grants ADD COLUMN minimum_stability TEXT CHECK (minimum_stability IN ('stable', 'RC', 'beta', 'alpha', 'dev'));

CREATE TABLE vendor_grants (
  account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  vendor TEXT NOT NULL,
  version_constraint TEXT,
  updates_until TEXT,
  minimum_stability TEXT CHECK (minimum_stability IN ('stable', 'RC', 'beta', 'alpha', 'dev')),
  created_at TEXT NOT NULL,
  PRIMARY KEY (account_id, vendor)
) STRICT;

-- What an account sees is cached against the catalog counter (004-change-counters.sql).
CREATE TRIGGER grants_rule_changed AFTER UPDATE OF version_constraint, updates_until, minimum_stability ON grants
BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER vendor_grants_inserted AFTER INSERT ON vendor_grants
BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER vendor_grants_changed AFTER UPDATE ON vendor_grants
BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER vendor_grants_deleted AFTER DELETE ON vendor_grants
BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;
