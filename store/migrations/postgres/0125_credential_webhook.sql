-- A credential's lifecycle webhook (package credential, events.go): the
-- receiver of its issuance and revocation events; '' for none.
ALTER TABLE credentials ADD COLUMN webhook TEXT NOT NULL DEFAULT '';
