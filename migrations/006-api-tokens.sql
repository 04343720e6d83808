-- Operator API tokens: bearer credentials for automation (publishing over HTTP), separate
-- from accounts and access keys, so they never open the Composer repository.
CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  scope TEXT NOT NULL CHECK (scope IN ('admin', 'publish')),
  -- JSON array of package patterns (vendor/name or vendor/*); [] means any package.
  packages TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(packages) AND json_type(packages) = 'array'),
  -- SHA-256 of the token; the token itself is never stored.
  token_hash BLOB NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  -- Written at most once a minute per token, so authenticating is not a write per request.
  last_used_at TEXT
) STRICT;
