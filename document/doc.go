// Package document defines what every identity-document verifier in
// Madoguchi produces: an Evidence value describing one chip read (ICAO
// passport, Japanese driver's licence, My Number card, residence card), the
// checks performed on it and their results, and the holder's attributes,
// each marked signed or unsigned.
//
// The chip formats live in subpackages (document/icao, document/jpdl,
// document/mynumber, document/residence, document/jpki); they share the
// types and sentinel errors defined here.
//
// Invariants:
//   - Evidence.Verified is true only if every mandatory check passed; a
//     verifier that cannot complete a mandatory check records it as failed,
//     never as skipped.
//   - Personal data (document number, attribute values, photo) is carried in
//     Secret and Photo, which redact themselves in fmt, log/slog and
//     encoding/json. Revealing them takes an explicit call (Secret.Reveal,
//     Evidence.RevealedJSON).
//   - The My Number (個人番号) is never put into an Evidence: not as the
//     document number, not as an attribute (the mynumber verifier's duty),
//     and IDAEvidence never emits a document number for a My Number card.
//   - Check details and error messages are reviewer-readable and never
//     contain personal data.
package document
