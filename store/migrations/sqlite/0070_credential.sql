-- The offline face credential (package credential). No template and no
-- personal data is stored here: a credential row is opaque ids, times and
-- its status-list index; the template lives only in the QR code (HPKE
-- ciphertext) and in txauth's sealed enrolment.
--
-- credential_tenants: per tenant, the next status-list index and the
-- revocation count (the status list's seq, which never goes down).
CREATE TABLE credential_tenants (
	tenant_id   TEXT    PRIMARY KEY REFERENCES tenants (id),
	next_index  BIGINT  NOT NULL,
	seq         BIGINT  NOT NULL
);

-- The pseudonymous subject id a customer's credentials carry (random,
-- stable across reissues; unrelated to the customer id or reference).
CREATE TABLE credential_subjects (
	tenant_id   TEXT   NOT NULL REFERENCES tenants (id),
	customer_id TEXT   NOT NULL,
	subject     TEXT   NOT NULL UNIQUE,
	PRIMARY KEY (tenant_id, customer_id)
);

CREATE TABLE credentials (
	id            TEXT    PRIMARY KEY,
	tenant_id     TEXT    NOT NULL REFERENCES tenants (id),
	customer_id   TEXT    NOT NULL,
	status_index  BIGINT  NOT NULL,
	model         TEXT    NOT NULL,
	basis         TEXT    NOT NULL,
	basis_ref     TEXT    NOT NULL,
	key_version   BIGINT  NOT NULL,
	issued_at     BIGINT  NOT NULL,
	expires_at    BIGINT  NOT NULL,
	revoked_at    BIGINT  NOT NULL,
	revoke_reason TEXT    NOT NULL,
	replaced_by   TEXT    NOT NULL,
	UNIQUE (tenant_id, status_index)
);
CREATE INDEX credentials_customer ON credentials (tenant_id, customer_id);

-- The tenant's branch keys (X25519): the public half encrypts templates,
-- the private half is sealed by the vault and handed only to enrolled
-- devices, wrapped to each device's own key. A new version is made when a
-- device is removed.
CREATE TABLE credential_branch_keys (
	tenant_id   TEXT    NOT NULL REFERENCES tenants (id),
	version     BIGINT  NOT NULL,
	public_key  BLOB    NOT NULL,
	sealed      BLOB    NOT NULL,
	created_at  BIGINT  NOT NULL,
	PRIMARY KEY (tenant_id, version)
);

-- Branch devices: enrolled and removed under dual control.
CREATE TABLE credential_devices (
	id              TEXT    PRIMARY KEY,
	tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
	name            TEXT    NOT NULL,
	hpke_public     BLOB    NOT NULL UNIQUE,
	log_key         TEXT    NOT NULL UNIQUE,
	state           TEXT    NOT NULL,
	requested_by    TEXT    NOT NULL,
	approved_by     TEXT    NOT NULL,
	removal_by      TEXT    NOT NULL,
	removed_by      TEXT    NOT NULL,
	created_at      BIGINT  NOT NULL,
	activated_at    BIGINT  NOT NULL,
	removed_at      BIGINT  NOT NULL,
	log_size        BIGINT  NOT NULL,
	synced_at       BIGINT  NOT NULL
);
CREATE INDEX credential_devices_tenant ON credential_devices (tenant_id, state);

-- The leaf hashes of each device's own audit log received so far, to
-- check every new checkpoint against everything synced before.
CREATE TABLE credential_device_log (
	device_id  TEXT    NOT NULL REFERENCES credential_devices (id),
	idx        BIGINT  NOT NULL,
	leaf_hash  BLOB    NOT NULL,
	PRIMARY KEY (device_id, idx)
);
