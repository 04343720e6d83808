-- Suspended accounts: a disabled account keeps its keys, grants and downloads token, but none
-- of them is accepted until it is enabled again. NULL: active.
ALTER TABLE accounts ADD COLUMN disabled_at TEXT;

-- The credential check answers from a cache validated by the credentials counter
-- (004-change-counters.sql); suspending or restoring an account changes which keys authenticate.
CREATE TRIGGER accounts_disabled_changed AFTER UPDATE OF disabled_at ON accounts
BEGIN UPDATE catalog_revision SET credentials = credentials + 1 WHERE id = 1; END;
