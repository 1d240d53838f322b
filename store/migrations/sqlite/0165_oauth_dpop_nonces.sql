-- DPoP server nonces (RFC 9449 §8, §9) shared by every instance: one random
-- nonce per 60-second slot, created by the first instance that needs it and
-- read by the others once per slot, so a nonce one instance handed out is
-- accepted by all of them behind a load balancer. A nonce is public (servers
-- send it to clients); nothing secret is kept here. Swept after expires_at,
-- the end of the next slot (a nonce is accepted in its slot and the next).
CREATE TABLE oauth_dpop_nonces (
	slot       INTEGER PRIMARY KEY,
	nonce      TEXT    NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX oauth_dpop_nonces_expiry ON oauth_dpop_nonces (expires_at);
