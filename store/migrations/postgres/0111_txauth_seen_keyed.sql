-- What customers confirmed before (txauth_seen) and the keys a pending
-- confirmation will remember are now HMAC-SHA256 under the server's reuse
-- secret instead of plain SHA-256: an unkeyed hash of an account number,
-- a device id or a network can be found by trying candidates. The old
-- digests cannot be converted (the values are not kept in clear), so they
-- are deleted: a customer's next transfer to a payee, device or network
-- known before raises new_payee / new_device / new_network once more.
DELETE FROM txauth_seen;
UPDATE txauth_confirmations SET payee_key = ''::bytea, device_key = ''::bytea, network_key = ''::bytea;
