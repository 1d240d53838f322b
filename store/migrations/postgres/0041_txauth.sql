-- Transaction authentication (package txauth): per-tenant risk policies,
-- image authentication cards, confirmations of transactions, single-use
-- image challenges, monitoring alerts, dual-control unlocks and what each
-- customer has confirmed before (hashed). Webhooks go through notify. Card
-- layouts, transactions and challenge candidates are sealed under the
-- customer's data subject; nothing here is personal data in clear.

CREATE TABLE txauth_policies (
	tenant_id  TEXT    PRIMARY KEY REFERENCES tenants (id),
	version    INTEGER NOT NULL,
	policy     TEXT    NOT NULL,
	updated_at BIGINT  NOT NULL
);

-- Per-customer state: the legacy method refused from legacy_refused_at
-- (the card's activation), the account locked by monitoring staff.
CREATE TABLE txauth_accounts (
	tenant_id         TEXT   NOT NULL REFERENCES tenants (id),
	customer_id       TEXT   NOT NULL REFERENCES customers (id),
	legacy_refused_at BIGINT NOT NULL,
	locked_at         BIGINT NOT NULL,
	locked_by         TEXT   NOT NULL,
	PRIMARY KEY (tenant_id, customer_id)
);

CREATE TABLE txauth_cards (
	id            TEXT    PRIMARY KEY,
	tenant_id     TEXT    NOT NULL REFERENCES tenants (id),
	customer_id   TEXT    NOT NULL REFERENCES customers (id),
	serial        TEXT    NOT NULL,
	state         TEXT    NOT NULL,
	layout        BYTEA    NOT NULL,
	candidates    INTEGER NOT NULL,
	failures      INTEGER NOT NULL,
	locked_at     BIGINT  NOT NULL,
	pending_cells TEXT    NOT NULL,
	recent_cells  TEXT    NOT NULL,
	uses          INTEGER NOT NULL,
	tracking      TEXT    NOT NULL,
	replaces      TEXT    NOT NULL,
	printed_at    BIGINT  NOT NULL,
	issued_at     BIGINT  NOT NULL,
	mailed_at     BIGINT  NOT NULL,
	delivered_at  BIGINT  NOT NULL,
	activated_at  BIGINT  NOT NULL,
	ended_at      BIGINT  NOT NULL,
	version       INTEGER NOT NULL
);
CREATE UNIQUE INDEX txauth_cards_serial ON txauth_cards (tenant_id, serial);
CREATE INDEX txauth_cards_customer ON txauth_cards (tenant_id, customer_id, state);

CREATE TABLE txauth_confirmations (
	id              TEXT    PRIMARY KEY,
	tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
	client_id       TEXT    NOT NULL,
	customer_id     TEXT    NOT NULL REFERENCES customers (id),
	kind            TEXT    NOT NULL,
	reference       TEXT    NOT NULL,
	card_id         TEXT    NOT NULL,
	tx_hash         BYTEA    NOT NULL,
	tx              BYTEA    NOT NULL,
	assessment      TEXT    NOT NULL,
	required        TEXT    NOT NULL,
	satisfied       TEXT    NOT NULL,
	state           TEXT    NOT NULL,
	held            INTEGER NOT NULL,
	token_hash      BYTEA    NOT NULL,
	webhook         TEXT    NOT NULL,
	payee_key       BYTEA    NOT NULL,
	device_key      BYTEA    NOT NULL,
	network_key     BYTEA    NOT NULL,
	created_at      BIGINT  NOT NULL,
	expires_at      BIGINT  NOT NULL,
	decided_at      BIGINT  NOT NULL,
	result          TEXT    NOT NULL,
	version         INTEGER NOT NULL
);
CREATE UNIQUE INDEX txauth_confirmations_token ON txauth_confirmations (token_hash);
CREATE INDEX txauth_confirmations_customer ON txauth_confirmations (tenant_id, customer_id, created_at);
CREATE INDEX txauth_confirmations_expiry ON txauth_confirmations (state, expires_at);

-- One row per challenge shown: two cells of one card, the candidates
-- behind per-challenge opaque ids (sealed), answered once.
CREATE TABLE txauth_challenges (
	id              TEXT   PRIMARY KEY,
	tenant_id       TEXT   NOT NULL,
	confirmation_id TEXT   NOT NULL REFERENCES txauth_confirmations (id),
	card_id         TEXT   NOT NULL REFERENCES txauth_cards (id),
	cells           TEXT   NOT NULL,
	state           TEXT   NOT NULL,
	sealed          BYTEA   NOT NULL,
	created_at      BIGINT NOT NULL,
	expires_at      BIGINT NOT NULL,
	answered_at     BIGINT NOT NULL
);
CREATE INDEX txauth_challenges_confirmation ON txauth_challenges (confirmation_id, state);

-- Failed image-card answers, for the tenant-wide guessing detector.
CREATE TABLE txauth_failures (
	tenant_id TEXT   NOT NULL,
	card_id   TEXT   NOT NULL,
	at        BIGINT NOT NULL
);
CREATE INDEX txauth_failures_tenant ON txauth_failures (tenant_id, at);

-- What each customer has confirmed before (payees, devices, networks), as
-- SHA-256 under a tenant and customer label: the new-payee, new-device and
-- new-network signals.
CREATE TABLE txauth_seen (
	tenant_id   TEXT   NOT NULL,
	customer_id TEXT   NOT NULL,
	kind        TEXT   NOT NULL,
	key_hash    BYTEA   NOT NULL,
	first_at    BIGINT NOT NULL,
	PRIMARY KEY (tenant_id, customer_id, kind, key_hash)
);

CREATE TABLE txauth_alerts (
	id              TEXT   PRIMARY KEY,
	tenant_id       TEXT   NOT NULL REFERENCES tenants (id),
	customer_id     TEXT   NOT NULL,
	confirmation_id TEXT   NOT NULL,
	kind            TEXT   NOT NULL,
	severity        TEXT   NOT NULL,
	details         TEXT   NOT NULL,
	state           TEXT   NOT NULL,
	created_at      BIGINT NOT NULL,
	closed_at       BIGINT NOT NULL,
	closed_by       TEXT   NOT NULL
);
CREATE INDEX txauth_alerts_state ON txauth_alerts (state, created_at);
CREATE INDEX txauth_alerts_tenant ON txauth_alerts (tenant_id, kind, created_at);

-- Call-backs staff made to a customer about an alert; the note is sealed
-- under the customer's subject.
CREATE TABLE txauth_callbacks (
	id          TEXT   PRIMARY KEY,
	tenant_id   TEXT   NOT NULL,
	alert_id    TEXT   NOT NULL REFERENCES txauth_alerts (id),
	customer_id TEXT   NOT NULL,
	staff_id    TEXT   NOT NULL,
	outcome     TEXT   NOT NULL,
	note        BYTEA   NOT NULL,
	created_at  BIGINT NOT NULL
);

-- Dual control: one staff member asks to unlock a locked card, naming the
-- customer's re-verification; another approves.
CREATE TABLE txauth_unlocks (
	id             TEXT   PRIMARY KEY,
	tenant_id      TEXT   NOT NULL,
	card_id        TEXT   NOT NULL REFERENCES txauth_cards (id),
	reverification TEXT   NOT NULL,
	requested_by   TEXT   NOT NULL,
	requested_at   BIGINT NOT NULL,
	decided_by     TEXT   NOT NULL,
	decided_at     BIGINT NOT NULL,
	state          TEXT   NOT NULL
);
