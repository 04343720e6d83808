-- Accounts, access keys, packages, versions and grants.
CREATE TABLE accounts (
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL UNIQUE COLLATE NOCASE,
  mage_id TEXT NOT NULL UNIQUE,
  email TEXT,
  password_hash TEXT,
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE access_keys (
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  public_key TEXT NOT NULL UNIQUE,
  -- SHA-256 of the private key; the key itself is never stored.
  private_key_hash BLOB NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_at TEXT NOT NULL,
  last_used_at TEXT
) STRICT;
CREATE INDEX access_keys_account ON access_keys (account_id);

CREATE TABLE packages (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  access TEXT NOT NULL CHECK (access IN ('public', 'restricted')),
  created_at TEXT NOT NULL,
  -- Unix seconds; strictly increases on every change so Last-Modified never repeats.
  metadata_updated_at INTEGER NOT NULL,
  -- Prebuilt p2 documents (composer/2.0 minified) with a base-URL placeholder.
  metadata TEXT,
  metadata_dev TEXT
) STRICT;

CREATE TABLE versions (
  id INTEGER PRIMARY KEY,
  package_id INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
  version TEXT NOT NULL,
  version_normalized TEXT NOT NULL,
  dist_file TEXT NOT NULL,
  shasum TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  manifest TEXT NOT NULL,
  released_at TEXT NOT NULL,
  downloads INTEGER NOT NULL DEFAULT 0,
  UNIQUE (package_id, version_normalized),
  UNIQUE (package_id, dist_file)
) STRICT;

CREATE TABLE grants (
  account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  package_id INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  PRIMARY KEY (account_id, package_id)
) STRICT;
