package icao

import (
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/document"
)

// FileName normalises a chip file name as clients send it — "EF.SOD.bin",
// "dg2.jpg", "011D", "AA" — to "sod", "com", "dg1" … "dg16" or "aa" (the
// INTERNAL AUTHENTICATE response). It reports false for other names.
func FileName(name string) (string, bool) {
	base := strings.TrimPrefix(strings.ToLower(filepath.Base(name)), "ef.")
	if i := strings.IndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	switch base {
	case "sod", "011d":
		return "sod", true
	case "com", "011e":
		return "com", true
	case "aa":
		return "aa", true
	}
	if rest, ok := strings.CutPrefix(base, "dg"); ok {
		if n, err := strconv.Atoi(rest); err == nil {
			if _, ok := DGTag(n); ok {
				return "dg" + strconv.Itoa(n), true
			}
		}
	}
	return "", false
}

// FilesFromNamed sorts named chip files (names as FileName accepts) into
// Files and the Active Authentication response (nil if none). An unknown
// or repeated name is refused with document.ErrNotAccepted.
func FilesFromNamed(named map[string][]byte) (Files, []byte, error) {
	f := Files{DG: map[int][]byte{}}
	var aa []byte
	seen := map[string]bool{}
	for name, b := range named {
		n, ok := FileName(name)
		if !ok {
			return Files{}, nil, document.Refuse(document.KindICAO, "files", document.ErrNotAccepted, "%q is not an eMRTD file name (sod, com, dg1 … dg16, aa)", filepath.Base(name))
		}
		if seen[n] {
			return Files{}, nil, document.Refuse(document.KindICAO, "files", document.ErrNotAccepted, "%s given twice", n)
		}
		seen[n] = true
		switch n {
		case "sod":
			f.SOD = b
		case "com":
			f.COM = b
		case "aa":
			aa = b
		default:
			dg, _ := strconv.Atoi(n[2:])
			f.DG[dg] = b
		}
	}
	return f, aa, nil
}

// VerifyNamed is Verify on named files (see FilesFromNamed). challenge is
// the one the server issued for this session, nil if none. The evidence is
// nil only when the file names are refused or an "aa" response comes
// without a challenge.
func (v *Verifier) VerifyNamed(named map[string][]byte, challenge []byte, now time.Time) (*document.Evidence, error) {
	f, resp, err := FilesFromNamed(named)
	if err != nil {
		return nil, err
	}
	var aa *ActiveAuth
	switch {
	case resp != nil && challenge == nil:
		return nil, document.Refuse(document.KindICAO, "aa", document.ErrChallenge, "an Active Authentication response came without a server challenge")
	case resp != nil:
		aa = &ActiveAuth{Challenge: challenge, Signature: resp}
	}
	return v.Verify(f, aa, now)
}
