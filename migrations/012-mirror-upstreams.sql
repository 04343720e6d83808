-- Mirrored upstream repositories (repo.magento.com, packagist.org, another Packyard): the
-- operator's list of upstreams, the names known from each, every mirrored version, and which
-- accounts may see an upstream configured with `--access granted`. Upstream credentials are
-- never stored here: they come from an auth.json named by PACKYARD_UPSTREAM_AUTH_FILE.
CREATE TABLE upstreams (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  url TEXT NOT NULL,
  mode TEXT NOT NULL CHECK (mode IN ('lazy', 'approved')),
  access TEXT NOT NULL CHECK (access IN ('all', 'granted')),
  -- JSON list of available-package-patterns (vendor/*) served for a lazy upstream.
  patterns TEXT NOT NULL DEFAULT '[]',
  created_at TEXT NOT NULL,
  -- Health, written on every upstream request; no trigger (it never changes an answer).
  last_success_at TEXT,
  last_error_at TEXT,
  last_error TEXT
) STRICT;

CREATE TABLE upstream_packages (
  upstream_id INTEGER NOT NULL REFERENCES upstreams (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  approved INTEGER NOT NULL DEFAULT 0 CHECK (approved IN (0, 1)),
  -- Unix seconds of the last upstream answer (200, 304 or 404); NULL: never asked.
  checked_at INTEGER,
  -- What makes the next check conditional: the v2 Last-Modified, or the v1 provider sha256.
  validator TEXT,
  -- Unix seconds; moves (strictly increasing) whenever the served versions change.
  metadata_updated_at INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (upstream_id, name)
) STRICT;

CREATE TABLE mirrored_versions (
  upstream_id INTEGER NOT NULL REFERENCES upstreams (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  version_normalized TEXT NOT NULL,
  -- The version's expanded metadata as upstream gave it (dist URL still upstream's).
  metadata TEXT NOT NULL,
  dist_url TEXT NOT NULL,
  -- SHA-1 upstream gives for the archive; '' when it gives none.
  dist_shasum TEXT NOT NULL DEFAULT '',
  fetched_at TEXT NOT NULL,
  -- The archive kept locally (content-addressed in the archive store) once first downloaded.
  sha256 TEXT,
  sha1 TEXT,
  size INTEGER,
  PRIMARY KEY (upstream_id, name, version_normalized)
) STRICT;

CREATE TABLE upstream_grants (
  account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  upstream_id INTEGER NOT NULL REFERENCES upstreams (id) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  PRIMARY KEY (account_id, upstream_id)
) STRICT;

-- The Composer routes answer mirrored names and documents from caches validated by the
-- catalog counter (004-change-counters.sql): every change of what they serve moves it.
CREATE TRIGGER upstreams_inserted AFTER INSERT ON upstreams
BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER upstreams_changed AFTER UPDATE OF name, url, mode, access, patterns ON upstreams
BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER upstreams_deleted AFTER DELETE ON upstreams
BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER upstream_packages_inserted AFTER INSERT ON upstream_packages
BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER upstream_packages_changed AFTER UPDATE OF approved, metadata_updated_at ON upstream_packages
BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER upstream_packages_deleted AFTER DELETE ON upstream_packages
BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER upstream_grants_inserted AFTER INSERT ON upstream_grants
BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER upstream_grants_deleted AFTER DELETE ON upstream_grants
BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;
