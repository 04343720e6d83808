-- Account web pages and the downloads API: sessions, the optional encrypted copy of each
-- private key (key reveal), Downloads Access Tokens, editions and release files.

-- AES-256-GCM ciphertext of the private key, only when the operator enables key reveal;
-- verification never reads it (private_key_hash stays the only credential).
ALTER TABLE access_keys ADD COLUMN private_key_sealed BLOB;

CREATE TABLE sessions (
  -- SHA-256 of the random cookie value; the cookie itself is never stored.
  id_hash BLOB PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  -- One-shot message shown on the next page (Post/Redirect/Get), as JSON.
  flash TEXT
) STRICT;
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE download_tokens (
  -- One active token per account: generating a new one replaces the row.
  account_id INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  -- SHA-256 of the token; the token itself is never stored.
  token_hash BLOB NOT NULL UNIQUE,
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE editions (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  access TEXT NOT NULL CHECK (access IN ('public', 'restricted')),
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE edition_grants (
  account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  edition_id INTEGER NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  PRIMARY KEY (account_id, edition_id)
) STRICT;

CREATE TABLE releases (
  id INTEGER PRIMARY KEY,
  file_name TEXT NOT NULL UNIQUE,
  version TEXT NOT NULL,
  -- NULL: no edition, served to every account with a valid token.
  edition_id INTEGER REFERENCES editions (id),
  size INTEGER NOT NULL,
  sha1 TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  md5 TEXT NOT NULL,
  created_at TEXT NOT NULL
) STRICT;
CREATE INDEX releases_edition ON releases (edition_id);
