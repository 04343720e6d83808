-- Security advisories of mirrored packages as their upstream's `security-advisories` api-url gave
-- them (docs/composer-protocol.md §6.5), per upstream and package name, with the time they were
-- fetched: refetched when older than PACKYARD_MIRROR_MAX_AGE, served stale while the upstream
-- fails. Read per audit request, never cached in memory: no change counter.
CREATE TABLE upstream_advisories (
  upstream_id INTEGER NOT NULL REFERENCES upstreams (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  -- JSON list of the advisories kept (checked and trimmed to what Composer reads).
  advisories TEXT NOT NULL,
  -- Unix seconds of the upstream answer.
  fetched_at INTEGER NOT NULL,
  PRIMARY KEY (upstream_id, name)
) STRICT;
