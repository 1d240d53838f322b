package chip

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/icao"
)

// jpFileNames are the chip files of the Japanese kinds, in reading order.
var jpFileNames = map[document.Kind][]string{
	document.KindJPDL: {"mf_ef01", "df1_ef01", "df1_ef02", "df1_ef03", "df1_ef04", "df1_ef05", "df1_ef06", "df1_ef07", "df2_ef01"},
	document.KindMyNumber: {"textap_ef01", "textap_ef02", "textap_ef03", "textap_ef04",
		"visualap_ef02", "visualap_ef04", "visualap_ef05"},
	document.KindResidence: {"mf_ef01", "df1_ef01", "df1_ef02", "df2_ef01", "df2_ef02", "df2_ef03", "df2_ef04", "df3_ef01"},
}

// myNumberFiles hold the 個人番号 (the number and its image).
var myNumberFiles = map[string]bool{"textap_ef01": true, "visualap_ef05": true}

// HoldsMyNumber reports whether a client's file name names one of the My
// Number card files that hold the 個人番号 (textap_ef01, visualap_ef05),
// in any spelling a client might send, whatever document kind the client
// claims: any directory, any case, any extension ("TEXTAP_EF01.dat",
// "reads/visualap_ef05.bin"), and with the separator dropped or changed
// ("textap-ef01", "VisualAP EF05"). Callers that must never collect the
// number (番号利用法) refuse the whole read when it is true, before storing
// anything; it is deliberately wider than FileName, which only accepts the
// files of one kind.
func HoldsMyNumber(name string) bool {
	if n, ok := FileName(document.KindMyNumber, name); ok && myNumberFiles[n] {
		return true
	}
	loose := make([]byte, 0, len(name))
	for _, c := range []byte(strings.ToLower(name)) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			loose = append(loose, c)
		}
	}
	for n := range myNumberFiles {
		if strings.Contains(string(loose), strings.ReplaceAll(n, "_", "")) {
			return true
		}
	}
	return false
}

// FileNames lists the canonical file names of kind k (nil for an unknown
// kind).
func FileNames(k document.Kind) []string {
	if k == document.KindICAO {
		out := []string{"sod", "com"}
		for n := 1; n <= 16; n++ {
			out = append(out, "dg"+strconv.Itoa(n))
		}
		return append(out, "aa")
	}
	return slices.Clone(jpFileNames[k])
}

// FileName normalises a file name as a client sends it (any directory,
// case and extension: "DF1_EF01.bin", "EF.SOD", "dg2.jp2") to the canonical
// name of a file of kind k. It reports false if the name is not one of
// k's files.
func FileName(k document.Kind, name string) (string, bool) {
	if k == document.KindICAO {
		return icao.FileName(name)
	}
	base := strings.ToLower(filepath.Base(name))
	if i := strings.IndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	if slices.Contains(jpFileNames[k], base) {
		return base, true
	}
	return "", false
}

// KindsOf returns the kinds that have a file of this name, in
// document.Kinds order ("mf_ef01" is both a licence's and a residence
// card's).
func KindsOf(name string) []document.Kind {
	var out []document.Kind
	for _, k := range document.Kinds() {
		if _, ok := FileName(k, name); ok {
			out = append(out, k)
		}
	}
	return out
}

// Detect names the one kind whose files include every name given. It
// refuses (document.ErrNotAccepted, with the reason) names that belong to
// no kind, names that belong to different kinds (a mixed bundle), and
// bundles that fit more than one kind.
func Detect(names []string) (document.Kind, error) {
	if len(names) == 0 {
		return "", document.Refuse("", "files", document.ErrNotAccepted, "no chip files")
	}
	candidates := document.Kinds()
	for _, n := range names {
		ks := KindsOf(n)
		if len(ks) == 0 {
			return "", document.Refuse("", "files", document.ErrNotAccepted, "%s is not a chip file of any accepted document", displayName(n))
		}
		var keep []document.Kind
		for _, k := range candidates {
			if slices.Contains(ks, k) {
				keep = append(keep, k)
			}
		}
		if len(keep) == 0 {
			return "", document.Refuse("", "files", document.ErrNotAccepted, "%s is a %s file, but the other files are not: mixed bundle", displayName(n), joinKinds(ks))
		}
		candidates = keep
	}
	if len(candidates) > 1 {
		return "", document.Refuse("", "files", document.ErrNotAccepted, "the files fit %s chips alike: name the kind", joinKinds(candidates))
	}
	return candidates[0], nil
}

// displayName is a file's base name, shortened and stripped of anything
// but printable ASCII, for reasons (file names come from clients).
func displayName(name string) string {
	b := []byte(filepath.Base(name))
	if len(b) > 40 {
		b = append(b[:40], "..."...)
	}
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' {
			b[i] = '?'
		}
	}
	return strconv.Quote(string(b))
}

func joinKinds(ks []document.Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, " or ")
}
