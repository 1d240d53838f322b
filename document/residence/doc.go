// Package residence verifies IC chip data of a Japanese residence card
// (在留カード) or special permanent resident certificate (特別永住者証明書),
// read by a client and sent as raw file bytes, following 法務省
// 「在留カード等仕様書（一般公開用）」.
//
// Files:
//
//	MF/EF01   common data: C0 spec version, C1 card type ("1" residence
//	          card, "2" special permanent resident certificate)
//	DF1/EF01  D0 front-face image (券面(表)イメージ, TIFF)
//	DF1/EF02  D1 face image (JPEG 2000)
//	DF2/EF01  D4 date written, D5 address, D6 address code (住居地, back side)
//	DF2/EF02–EF04  D7, D8, D9 back-side permission / renewal entries
//	DF3/EF01  DA check code (256 B), DB X.509 certificate
//
// The check code is an RSA-2048 PKCS#1 v1.5 signature, SHA-256, over the
// front image padded with 0x00 to 7000 bytes followed by the face image
// padded with 0x00 to 3000 bytes (spec §3.4.3.1). The certificate DB must
// chain to a configured root (the issuing authority's CA); roots are
// configured, never built in.
//
// Invariants:
//   - Evidence.Verified is true only if the certificate chains to a
//     configured root at the verification time and the check code verifies.
//   - An image longer than its padded size is refused, never truncated
//     (truncation would leave bytes outside the signature).
//   - Zero padding leaves trailing zero bytes of an image outside what the
//     check code distinguishes: the face image must end with the JPEG 2000
//     EOC marker (FF D9), which pins its length; the front TIFF has no such
//     terminator, so trailing zeros appended to it would go unnoticed (they
//     do not change the decoded image).
//   - The back side (DF2) is not covered by the check code: its attributes
//     are reported Signed=false. The holder's name, nationality and birth
//     date exist on the chip only inside the signed front image.
//   - Every input has a size limit; nothing panics on input; errors and
//     check details carry no personal data.
package residence
