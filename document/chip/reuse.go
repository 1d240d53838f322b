package chip

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"sort"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/icao"
)

// signedObjects names, per kind, the files whose bytes the issuer's
// signature covers and which differ from card to card: what identifies one
// chip's content. Any of them seen again is the same card (or a copy of
// its read), so a caller keeps one digest per object and a read matches if
// any of its objects does — leaving an optional file out does not evade
// it. The ICAO entry is the SOD's signed content (the LDS security object
// with every data group's hash), not the SOD file, whose unsigned parts
// (certificates, attribute order) could be re-encoded.
var signedObjects = map[document.Kind][]string{
	document.KindJPDL:      {"df1_ef01", "df2_ef01"},         // 記載事項, photo
	document.KindMyNumber:  {"textap_ef02", "visualap_ef02"}, // 基本4情報,券面事項
	document.KindResidence: {"df1_ef01", "df1_ef02"},         // front image, face image
	document.KindICAO:      {"sod"},
}

// SignedObjects returns the issuer-signed objects of a read (files keyed
// by canonical name, as Normalize returns them) that identify the chip, by
// object name: for the Japanese cards the signed files present, for an
// ICAO chip "sod.econtent", the SOD's signed content. It returns nothing
// for an object that is absent or (ICAO) does not parse. The bytes are
// shared with files, not copied; they are personal data: keep only a
// keyed digest of them.
func SignedObjects(kind document.Kind, files map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for _, n := range signedObjects[kind] {
		b := files[n]
		if len(b) == 0 {
			continue
		}
		if kind == document.KindICAO {
			sod, err := icao.ParseSOD(b)
			if err != nil || sod.SignedData == nil || len(sod.SignedData.EContent) == 0 {
				continue
			}
			out["sod.econtent"] = sod.SignedData.EContent
			continue
		}
		out[n] = b
	}
	return out
}

// BundleDigest is the SHA-256 that names one read exactly: over
// "madoguchi-chip-bundle-v1", then for each file in canonical-name order
// its name, its length (8 bytes, big-endian) and its bytes. A kiosk signs
// it (with the session nonce) to prove which read its reader produced;
// files must be keyed by canonical name (Normalize), so every spelling of
// one read has one digest.
func BundleDigest(files map[string][]byte) [32]byte {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	h.Write([]byte("madoguchi-chip-bundle-v1"))
	var n8 [8]byte
	for _, n := range slices.Compact(names) {
		h.Write([]byte{0})
		h.Write([]byte(n))
		h.Write([]byte{0})
		binary.BigEndian.PutUint64(n8[:], uint64(len(files[n])))
		h.Write(n8[:])
		h.Write(files[n])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}
