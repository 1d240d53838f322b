// Package tenant holds Madoguchi's tenants (connected services), their API
// clients, client authentication at the token endpoint and the opaque access
// tokens it issues.
//
// Clients authenticate without shared secrets, in one of three ways:
//
//   - private_key_jwt (RFC 7523): a compact JWS client assertion signed with
//     ES256, PS256 or EdDSA (Ed25519) by a key in the client's registered
//     JWKS. iss = sub = client id; aud is exactly one of the server's
//     configured audiences (issuer identifier or token endpoint URL); exp is
//     at most 5 minutes after iat; times allow a small skew (default 10 s);
//     each (client, jti) is accepted once, enforced by a primary key in the
//     database and deleted by Issuer.Sweep (never on the token path) after
//     the assertion could no longer be valid.
//   - tls_client_auth (RFC 8705 §2.1): the TLS client certificate must
//     chain (through intermediates the client sends) to the CA registered
//     with the client, be valid now and usable for client authentication,
//     not be a CA itself, and carry the one registered name: the subject DN
//     (RFC 4514, compared attribute by attribute, values exactly) or a
//     dNSName, URI, IP address or e-mail subjectAltName.
//   - self_signed_tls_client_auth (RFC 8705 §2.2): the TLS client certificate
//     must be the registered one, compared by SHA-256 thumbprint.
//
// The JWS verifier is our own, small and strict: compact serialization only,
// strict unpadded base64url, size limits, a header allow-list (alg, kid, typ;
// a header can never name its own key), duplicate JSON members refused,
// "none" and HMAC algorithms refused before any key is chosen, and a key's
// type must match the algorithm (no HS256-with-a-public-key confusion).
//
// Invariants:
//   - Every query about a tenant's objects filters on the tenant id; a lookup
//     of another tenant's client answers ErrNotFound.
//   - Access tokens are 256-bit random values; the database holds only their
//     SHA-256, with client, tenant, scopes (a subset of the client's), expiry,
//     and, when the client presented a TLS certificate, its x5t#S256
//     (Authenticate then requires the same certificate).
//   - Every change (tenant or client created or disabled, token issued)
//     appends an audit entry in the same transaction; a failed authentication
//     writes nothing.
//   - Registered keys are public keys only; a JWKS with private members is
//     refused.
//
// Wiring: NewRegistry for administration; NewIssuer with the server's issuer
// identifier and token endpoint URL as Audiences for POST /v1/oauth/token
// (ParseTokenRequest, Issuer.Token) and the Bearer middleware
// (Issuer.Authenticate). Creating a client goes through dual control: the
// staff approval executor for "client.create" calls Registry.CreateClientTx.
package tenant
