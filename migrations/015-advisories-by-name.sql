-- The operator's security advisories name a package, local or mirrored from an upstream, so that
-- `composer audit` reports them for either (next to the upstream's own for a mirrored name).
-- package_id is kept for an advisory added to a local package: deleting that package still
-- deletes its advisories. It is NULL for a name only an upstream serves.
-- Read per request by the advisories API, never cached: no change counter (as in 011).
CREATE TABLE advisories_by_name (
  id INTEGER PRIMARY KEY,
  package_name TEXT NOT NULL,
  package_id INTEGER REFERENCES packages (id) ON DELETE CASCADE,
  affected_versions TEXT NOT NULL,
  title TEXT NOT NULL,
  cve TEXT,
  link TEXT,
  severity TEXT,
  reported_at TEXT NOT NULL
) STRICT;

INSERT INTO advisories_by_name (id, package_name, package_id, affected_versions, title, cve, link, severity, reported_at)
  SELECT a.id, p.name, a.package_id, a.affected_versions, a.title, a.cve, a.link, a.severity, a.reported_at
  FROM advisories a JOIN packages p ON p.id = a.package_id;

DROP TABLE advisories;
ALTER TABLE advisories_by_name RENAME TO advisories;
CREATE INDEX advisories_package ON advisories (package_id);
CREATE INDEX advisories_name ON advisories (package_name);
