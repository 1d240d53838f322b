// Package jpki verifies signatures made with the keys of the My Number card's
// public individual authentication service (JPKI, 公的個人認証): the signing
// key (署名用電子証明書), for identity verification by method ワ of the
// Ordinance on the Act on Prevention of Transfer of Criminal Proceeds, and the
// user-authentication key (利用者証明用電子証明書), for re-authenticating a
// customer who was verified before.
//
// A verification binds four things: a server-issued Challenge (canonical DER
// with a version and a domain-separation label), an RSA PKCS#1 v1.5 / SHA-256
// signature over exactly those bytes (raw, or CMS SignedData), a certificate
// chain to pinned J-LIS roots, and the certificate's revocation status.
//
// Invariants:
//   - A Verifier cannot be built without a trust store, a revocation checker
//     and a nonce spender (ErrDisabled); there is no "not revoked" default.
//   - A signature is accepted only over the exact challenge bytes the server
//     issued, before the challenge expires, and only once: the nonce is
//     spent through the caller's NonceSpender after every other check passed.
//   - Certificates are checked at the signing time (the CMS signing-time
//     attribute, else the challenge's issued-at; never later than now):
//     validity, chain to an anchor of the right purpose (signing anchors for
//     signatures, user-authentication anchors for authentication), CA basic
//     constraints and key usage, the leaf's key usage, no unknown critical
//     extension, no SHA-1 signature, no RSA key under 2048 bits.
//   - Personal attributes (name, date of birth, sex, address) are returned
//     only after the whole verification passed, each as a Secret that
//     redacts itself in fmt, log/slog and encoding/json.
//   - Errors wrap the sentinels below (test them with errors.Is) and never
//     contain personal data.
//   - Production configurations accept only the pinned J-LIS roots
//     (CheckProduction); the generated roots of package jpkitest are refused.
package jpki
