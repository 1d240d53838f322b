-- Second devices for decoupled confirmation (package txauth, device.go): a
-- customer's phone app with a P-256 key (sealed under the customer's
-- subject), a polling token stored as SHA-256, and the per-confirmation
-- nonce the device signs (spent once).
CREATE TABLE txauth_devices (
	id          TEXT   PRIMARY KEY,
	tenant_id   TEXT   NOT NULL REFERENCES tenants (id),
	customer_id TEXT   NOT NULL REFERENCES customers (id),
	name        TEXT   NOT NULL,
	token_hash  BLOB   NOT NULL,
	public_key  BLOB   NOT NULL,
	created_at  BIGINT NOT NULL,
	revoked_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX txauth_devices_token ON txauth_devices (token_hash);
CREATE INDEX txauth_devices_customer ON txauth_devices (tenant_id, customer_id);

CREATE TABLE txauth_device_nonces (
	confirmation_id TEXT   PRIMARY KEY REFERENCES txauth_confirmations (id),
	tenant_id       TEXT   NOT NULL,
	nonce           BLOB   NOT NULL,
	used_at         BIGINT NOT NULL
);
