// Package jpdl verifies the IC chip data of a Japanese driver's licence
// (IC免許証), read by a client and sent as raw file bytes, following the
// National Police Agency's 「運転免許証及び運転免許証作成システム等仕様書」.
//
// Files (each a concatenation of BER-TLV objects, possibly padded with 0xFF
// up to the file size):
//
//	MF/EF01   共通データ要素: 45 (spec version 3 B, issue date BCD 4 B,
//	          expiry BCD 4 B), 46 (manufacturer, crypto function id)
//	DF1/EF01  記載事項(本籍除く): 11 JIS X 0208 year, 12 name, 13 呼び名,
//	          14 通称名, 15 統一氏名, 16 birth date, 17 address, 18 issue date,
//	          19 照会番号, 1A colour class, 1B expiry, 1C–1F conditions,
//	          20 公安委員会名, 21 licence number, 22–33 category dates
//	DF1/EF02  本籍 (tag 31)
//	DF1/EF04  記載事項変更等(本籍除く), DF1/EF06 変更(本籍): change records
//	DF1/EF07  電子署名: B1 signature (256 B), B2 signer certificate serial,
//	          B3 issuer name, B4 subject name, B5 subject key identifier
//	DF2/EF01  写真: 5F40 JPEG 2000
//
// Text fields are JIS X 0208 (document/internal/jis); dates are an era digit
// (1 明治 … 5 令和) and YYMMDD in ASCII; the common-data dates are BCD.
//
// The issuer signature is RSA PKCS#1 v1.5 with SHA-256 over DF1/EF01 ‖
// DF1/EF02 ‖ DF2/EF01, each taken as its TLV objects without the trailing
// 0xFF padding. It is verified with the public key of the 公安委員会
// certificate whose subject key identifier equals EF07's B5; those
// certificates are configured (NewVerifier), never built in.
//
// Assumptions to confirm against the spec (v009/v010) and a real card before
// production: the EF07 tags B2–B5, tag 31 of EF02, the change-record tags of
// EF04/EF06 (see parse.go), and that padding is excluded from the signed
// data. Each is one constant in this package.
//
// Invariants:
//   - Evidence.Verified is true only if the signature verified under a
//     configured, non-weak key selected by key identifier, and the files are
//     a licence and nothing else.
//   - Entries changed after issue (EF04/EF06) are not covered by the
//     signature: the current value is reported Signed=false, and the value at
//     issue (signed) is reported under the name suffixed ".at_issue".
//   - A text value containing 外字 (externally defined characters) is
//     reported with U+3013 substitutes and never as signed-complete: its
//     check is recorded and its attribute is marked unsigned.
//   - Every input has a size limit; nothing panics on input; errors and
//     check details carry no personal data.
package jpdl
