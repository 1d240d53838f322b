// Package oauth is Madoguchi's authorization server: the FAPI 2.0 Security
// Profile for every grant that acts for a customer, on top of the client
// authentication of package tenant (private_key_jwt, mutual TLS).
//
// What it serves (Handler's routes, documented in docs/api.md and
// docs/fapi.md): RFC 8414 and OpenID discovery, pushed authorization
// requests (RFC 9126, optionally as signed request objects, RFC 9101), the
// authorization endpoint with the customer step and consent page, the token
// endpoint (authorization_code, refresh_token, CIBA, and client_credentials
// delegated to tenant), introspection (RFC 7662, RFC 9701 JWT responses),
// revocation (RFC 7009), CIBA (poll and ping), UserInfo and the signing JWKS.
// It is the server's one token endpoint and one metadata document in every
// mode: without a customer authenticator (Config.Customers nil) it serves
// only the metadata and client_credentials, and advertises only that; the
// mutual-TLS methods are advertised only with Config.MutualTLS.
//
// Invariants:
//   - Nothing acts for a customer without PAR: the authorization endpoint
//     accepts only a request_uri, pushed by an authenticated client, used
//     once, less than 600 s old; response_type is code, PKCE is S256.
//   - Codes are single use and live at most 60 s; a second use revokes the
//     grant's tokens. Codes, tokens, request_uris, interaction ids and
//     auth_req_ids are 256-bit random values stored as SHA-256 only.
//   - Every access token for a customer is sender-constrained: bound to a
//     DPoP key (cnf.jkt) or a TLS client certificate (cnf.x5t#S256); a bound
//     token without its proof is refused. Refresh tokens are not rotated.
//   - JWTs accepted (request objects, DPoP proofs, client assertions) are
//     PS256, ES256 or EdDSA only, checked by tenant's one strict verifier;
//     replays are refused through a replay cache all instances share (DPoP
//     proofs: this instance's memory, then on PostgreSQL one insert into
//     the store; on SQLite one server holds the database, see dpop.go).
//   - Every consent (grant) is recorded with who, which partner, which
//     authorization_details and until when; authorization_details are sealed
//     by the vault under the customer; granting and revoking are audited in
//     the same transaction.
//   - A partner's OAuth client acts for customers only once its onboarding
//     assessment is signed off by a reviewer who recorded none of it and a
//     staff approval (KindActivate, filed by one admin, approved by
//     another) has activated it while the assessment was still the one
//     signed off (onboarding.go).
//   - OAuth endpoints answer RFC 6749 JSON errors; the HTML pages never
//     show internal errors.
//   - With Config.Revocations, the resource path reads no store for a token
//     it has seen: tokens are cached in a revoke.Cache, and every revocation
//     (a token or consent revoked here, published in its transaction; a
//     client or tenant disabled, published by the store's triggers) reaches
//     every instance within the watcher's bound (one second), on
//     PostgreSQL by notification, never by polling the token tables.
package oauth
