-- Installs reported by Composer (notify-batch) per account and version, next to the
-- per-version total in versions.downloads. No trigger: counting never changes an answer.
CREATE TABLE account_downloads (
  account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  version_id INTEGER NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
  count INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, version_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX account_downloads_version ON account_downloads (version_id);
