// Package devissuer holds a development server's TEST chip issuers — a
// 公安委員会 for driver's licences, a J-LIS key for My Number cards, a
// residence card authority and an ICAO CSCA with a Document Signer — and
// mints chip files for a test holder, so that anyone can run a whole
// method ヘ session against a local server without a real card.
//
// Keys live in one PEM file per issuer under a keys directory (a server's
// <data>/keys/dev-issuers/, mode 0700; files 0600, refused on load when
// group or others may read them). Their anchors are written into the
// server's trust directory (<data>/trust) marked as TEST anchors: the
// licence and residence anchors carry the test marker in their subject
// organisation, the My Number anchor the Madoguchi-Test-Anchor header, and
// the CSCA lives under trust/icao/test. A production server refuses every
// one of them at start-up (chip.Verifier.CheckProduction), so chips minted
// here are trusted only by the development server that owns the keys.
//
// Chip files follow the layouts and signature constructions that the
// verifier packages (document/jpdl, document/mynumber, document/residence,
// document/icao) check; the test issuers of those packages
// (jpdltest, mynumbertest, residencetest) are their test oracles and keep
// their keys in memory only, which is why the Japanese layouts are written
// again here with keys that persist. ICAO files are built by icaotest with
// the persisted CSCA and Document Signer keys.
//
// Photos: the Japanese chips hold JPEG 2000 (a JPEG 2000 input is embedded
// as it is; other images are encoded by this package's small JPEG 2000
// encoder, in colour with a quantization step of 4 or 8, at the largest
// size up to 300×400 that fits the chip's size limit: about 250×250 on a
// licence, 80×80 in a residence card's 3000 bytes); the passport DG2 holds
// a JPEG. No file minted here contains a real My Number: the
// text AP's number file is never written, and its hash in EF03 is of a
// random number.
package devissuer
