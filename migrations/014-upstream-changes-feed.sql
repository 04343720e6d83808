-- An upstream's `metadata-changes-url` feed (packagist.org's metadata/changes.json): which of the
-- cached packages changed since a timestamp, so a background refresh asks upstream only for those.
-- changes_timestamp: the feed's own timestamp to ask from next; NULL while the feed is not followed.
-- changes_epoch: moves each time following (re)starts (the first time, after a gap, on "resync").
-- A package stores the epoch that was current when it was last asked upstream itself; while that
-- is still the upstream's epoch, the feed names every change since, and a package the feed does
-- not name is current without a request. No trigger: none of this changes what Composer is answered.
ALTER TABLE upstreams ADD COLUMN changes_timestamp INTEGER;
ALTER TABLE upstreams ADD COLUMN changes_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE upstream_packages ADD COLUMN changes_epoch INTEGER;
