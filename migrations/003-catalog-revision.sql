-- A counter bumped by every change that can alter which packages an account sees, so a
-- server can cache per-account package lists and notice changes made by other processes
-- (the CLI) with one tiny read.
CREATE TABLE catalog_revision (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  revision INTEGER NOT NULL
) STRICT;
INSERT INTO catalog_revision (id, revision) VALUES (1, 0);

CREATE TRIGGER packages_inserted AFTER INSERT ON packages
BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER packages_access_changed AFTER UPDATE OF name, access ON packages
BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER packages_deleted AFTER DELETE ON packages
BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER grants_inserted AFTER INSERT ON grants
BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER grants_deleted AFTER DELETE ON grants
BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;
