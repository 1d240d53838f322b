-- Staff accounts belong to the operator (tenant_id NULL: every account that
-- existed before this migration stays an operator account) or to exactly one
-- tenant. A session records how it was opened: 'password' (password and
-- TOTP) or 'passkey'. totp_pending holds a sealed TOTP secret during
-- re-enrolment until a code from it is confirmed.
ALTER TABLE staff_accounts ADD COLUMN tenant_id TEXT REFERENCES tenants (id);
ALTER TABLE staff_accounts ADD COLUMN totp_pending BYTEA;
CREATE INDEX staff_accounts_tenant ON staff_accounts (tenant_id);
ALTER TABLE staff_sessions ADD COLUMN method TEXT NOT NULL DEFAULT 'password';
