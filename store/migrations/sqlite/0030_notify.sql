-- notify: one outbox for every domain's webhooks (moved from ekyc_outbox).
-- payload is sealed by the vault under (subject_tenant, subject) with the
-- AAD domain aad_domain; claimed_by/claim_until lease a row to one instance.
CREATE TABLE notify_outbox (
	event_id       TEXT    PRIMARY KEY,
	kind           TEXT    NOT NULL,
	tenant_id      TEXT    NOT NULL,
	subject_tenant TEXT    NOT NULL,
	subject        TEXT    NOT NULL,
	aad_domain     TEXT    NOT NULL,
	url            TEXT    NOT NULL,
	content_type   TEXT    NOT NULL,
	payload        BLOB   NOT NULL,
	state          TEXT    NOT NULL,
	attempts       INTEGER NOT NULL,
	next_at        INTEGER  NOT NULL,
	claimed_by     TEXT    NOT NULL,
	claim_until    INTEGER  NOT NULL,
	last_status    INTEGER NOT NULL,
	last_error     TEXT    NOT NULL,
	created_at     INTEGER  NOT NULL,
	delivered_at   INTEGER  NOT NULL
);
CREATE INDEX notify_outbox_due ON notify_outbox (state, next_at);
CREATE INDEX notify_outbox_tenant ON notify_outbox (tenant_id, created_at);

INSERT INTO notify_outbox (event_id, kind, tenant_id, subject_tenant, subject, aad_domain, url, content_type, payload,
	state, attempts, next_at, claimed_by, claim_until, last_status, last_error, created_at, delivered_at)
SELECT event_id, 'ekyc.webhook', tenant_id, tenant_id, subject, 'ekyc.outbox', url, 'application/jwt', payload,
	CASE state WHEN 'failed' THEN 'dead' ELSE state END, attempts, next_at, '', 0, last_status, '', created_at, delivered_at
FROM ekyc_outbox;
DELETE FROM ekyc_outbox;
