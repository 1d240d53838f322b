// Package mynumber verifies data read from the two card-face applications of
// a My Number card (個人番号カード), sent by a client as raw file bytes:
//
//	券面事項入力補助AP (text AP, AID D3 92 10 00 31 00 01 01 04 08)
//	  EF02  basic-4 information: FF20 { DF21 offsets, DF22 name, DF23
//	        address, DF24 birth date YYYYMMDD, DF25 sex } (UTF-8)
//	  EF03  signature object: FF30 { DF31 SHA-256 of the My Number file,
//	        DF32 SHA-256 of EF02, DF33 RSA signature }
//	  EF04  card-verifiable certificate of the signing key
//	券面事項確認AP (visual AP, AID D3 92 10 00 31 00 01 01 04 02)
//	  EF02  FF20 { DF21 header, DF22 birth date, DF23 sex, DF24 card key,
//	        DF25 name image (PNG), DF26 address image (PNG), DF27 face photo
//	        (JPEG 2000), DF28 signature, DF29 expiry, DF2A security-code image }
//	  EF04  card-verifiable certificate of the signing key
//
// A card-verifiable certificate is 7F21 { 5F4E body, 5F37 signature }; the
// body is the issuer key reference (16 B), the subject key reference (16 B)
// and the subject's RSA public key as two TLV objects, exponent then modulus.
// The 5F37 signature (RSA PKCS#1 v1.5, SHA-256, over the 5F4E object) is
// verified with a configured J-LIS key whose reference equals the issuer
// reference: trust anchors are configured (ParseAnchorsPEM), never built in.
//
// Signed data: the text AP signature DF33 covers DF31 ‖ DF32 (as encoded),
// and DF32 must equal SHA-256 of the EF02 object, so the basic-4 information
// is verified WITHOUT reading the My Number: DF31 is only compared by the
// signature, never recomputed. The visual AP signature DF28 covers the
// objects DF21–DF27 as encoded; DF29 (expiry) and DF2A follow the signature
// and are reported unsigned. These constructions follow the public readers'
// layouts (jpki/myna, AokiApp/jsapdu); their exact signed-data definition is
// not published in the sources found and must be confirmed against a real
// card before production.
//
// Invariants:
//   - THE 個人番号 (MY NUMBER) IS NEVER STORED, LOGGED OR RETURNED. If the
//     caller supplies the text AP EF01 (the number) or the visual AP EF05
//     (its image), Verify overwrites those bytes with zeros before doing
//     anything else and never parses them. DF31 (a hash of the number, which
//     can be brute-forced) is not copied into the evidence, and the EF03
//     digest is taken with DF31 masked.
//   - Evidence.DocumentNumber is always empty for this kind.
//   - Every attribute comes from a signed object, except the expiry, which is
//     reported Signed=false.
//   - Every input has a size limit; nothing panics on input; errors and
//     check details carry no personal data.
package mynumber
