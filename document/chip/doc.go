// Package chip verifies the raw files of one IC chip read — an ICAO 9303
// passport, a Japanese driver's licence, a My Number card or a residence
// card — by dispatching on the document kind to document/icao,
// document/jpdl, document/mynumber or document/residence, with the trust
// anchors the server was configured with. It is what the eKYC service calls
// for method ヘ (it satisfies ekyc.ChipVerifier) and what `madoguchi
// document verify` uses.
//
// File names. Clients name each file by what it holds, case-insensitive,
// any extension ("DF1_EF01.bin" is "df1_ef01"):
//
//	icao       sod (or ef.sod, 011d), com (011e), dg1 … dg16, and aa: the
//	           chip's answer to INTERNAL AUTHENTICATE with the challenge
//	jpdl       mf_ef01, df1_ef01 … df1_ef07, df2_ef01
//	mynumber   textap_ef01 … textap_ef04, visualap_ef02, visualap_ef04,
//	           visualap_ef05 (ef01 and visualap_ef05 hold the My Number:
//	           they are zeroised unread)
//	residence  mf_ef01, df1_ef01, df1_ef02, df2_ef01 … df2_ef04, df3_ef01
//
// FileName and Normalize are the only place names are interpreted;
// HoldsMyNumber says whether a name, in any spelling and under any kind,
// names a file holding the My Number (callers refuse the read).
// SignedObjects names a read's issuer-signed objects (the input of the eKYC
// chip-reuse digests) and BundleDigest the exact read a kiosk signs.
//
// Trust directory (LoadDir), the layout of <data>/trust:
//
//	icao/{production,test}/*.cer   CSCA anchors (package document/trust)
//	jpdl/*.pem       CERTIFICATE: 公安委員会 signer certificates
//	mynumber/*.pem   PUBLIC KEY with a Key-Reference header: J-LIS keys
//	residence/*.pem  CERTIFICATE: residence card issuer roots
//
// Invariants:
//   - A kind without anchors is disabled: verifying it is refused with
//     ErrNoAnchors (which wraps document.ErrNotAccepted), never approved.
//   - A bundle is verified only as the kind the caller names; a file that
//     belongs to another kind (a mixed bundle) or to none is refused with
//     document.ErrNotAccepted and a reviewer-readable reason naming the
//     file, before any file is parsed.
//   - Every file and the whole bundle have size limits (MaxFile,
//     MaxICAOFile, MaxBundle, MaxFiles); over a limit is
//     document.ErrTooLarge.
//   - The Active Authentication challenge of an ICAO chip is the first
//     ChallengeSize bytes of the challenge the caller passes (the eKYC
//     session nonce); a shorter challenge cannot be answered.
//   - CheckProduction refuses any test anchor of any kind
//     (document.ErrTestAnchor); a production server calls it at start-up.
//   - A Verifier is immutable after New and safe for concurrent use.
package chip
