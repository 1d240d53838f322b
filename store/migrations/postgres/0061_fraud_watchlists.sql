-- Watchlists (package fraud, watchlist.go): tenant-imported lists of
-- persons to screen for (反社会的勢力, sanctions), versioned. A version is
-- staged by one staff member and made active by another (dual control,
-- approval kind fraud.watchlist); both steps are audited. Entries are
-- personal data: they are sealed in chunks under the list's own subject
-- (tenant, "watchlist/<list id>").
CREATE TABLE fraud_watchlists (
	tenant_id    TEXT    NOT NULL REFERENCES tenants (id),
	list_id      TEXT    NOT NULL,
	version      INTEGER NOT NULL,
	state        TEXT    NOT NULL,
	entries      INTEGER NOT NULL,
	sha256       TEXT    NOT NULL,
	staged_by    TEXT    NOT NULL,
	approved_by  TEXT    NOT NULL,
	created_at   BIGINT  NOT NULL,
	activated_at BIGINT  NOT NULL,
	PRIMARY KEY (tenant_id, list_id, version)
);
CREATE INDEX fraud_watchlists_state ON fraud_watchlists (state);

CREATE TABLE fraud_watchlist_chunks (
	tenant_id TEXT    NOT NULL,
	list_id   TEXT    NOT NULL,
	version   INTEGER NOT NULL,
	chunk     INTEGER NOT NULL,
	body      BYTEA   NOT NULL,
	PRIMARY KEY (tenant_id, list_id, version, chunk)
);
