// Package icao verifies ICAO Doc 9303 eMRTD chip data (passports and
// ICAO-format ID cards) read by a client: the LDS data groups, EF.SOD,
// passive authentication against configured CSCA trust anchors, and
// Active Authentication against a server-issued challenge.
//
// Invariants:
//   - Every data group given is hashed and must match the SOD; a data
//     group the SOD does not list is refused (data injection), and DG1 and
//     EF.SOD are mandatory.
//   - The SOD signature is verified with the Document Signer certificate
//     carried in it; the DS must be valid at verification time, have the
//     digitalSignature key usage, chain to a CSCA anchor (valid when it
//     signed: CSCAs outlive their signing period), not be on a given CRL,
//     and its country must equal DG1's issuing state.
//   - If the chip has an Active Authentication key (DG15), a response to a
//     server-issued challenge is mandatory: a copied chip cannot answer a
//     fresh challenge. A chip without DG15 is reported as not proving chip
//     presence (check "aa" skipped), never as passing it.
//   - Hash and signature algorithms follow document/trust.Policy: MD5
//     never; SHA-1 only when explicitly allowed.
//   - Every input has a size limit; parse errors are ErrMalformed
//     (document.ErrMalformed) and never panics.
//   - Evidence carries the MRZ fields as attributes marked signed only when
//     passive authentication passed.
package icao
