-- Security advisories the operator publishes for `composer audit` (docs/composer-protocol.md §6.5).
-- Read per request by the advisories API, never cached: no change counter.
CREATE TABLE advisories (
  id INTEGER PRIMARY KEY,
  package_id INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
  affected_versions TEXT NOT NULL,
  title TEXT NOT NULL,
  cve TEXT,
  link TEXT,
  severity TEXT,
  reported_at TEXT NOT NULL
) STRICT;
CREATE INDEX advisories_package ON advisories (package_id);
