-- QR-started decoupled confirmation (package txauth, device_qr.go): the
-- confirmation page shows a code for the customer's registered device to
-- scan. Only the SHA-256 of the code's random secret is kept, with when it
-- stops working and when it was scanned (once).
ALTER TABLE txauth_device_nonces ADD COLUMN qr_hash BLOB NOT NULL DEFAULT X'';
ALTER TABLE txauth_device_nonces ADD COLUMN qr_expires_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE txauth_device_nonces ADD COLUMN qr_scanned_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX txauth_device_nonces_qr ON txauth_device_nonces (qr_hash);
