package chip_test

import (
	"bytes"
	"maps"
	"slices"
	"testing"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/chip"
)

// TestSignedObjects: every kind's read yields its issuer-signed objects
// (the ICAO one is the SOD's signed content, not the file), the same for
// every spelling of the read, and another card's differ.
func TestSignedObjects(t *testing.T) {
	is := testIssuers(t)
	want := map[document.Kind][]string{
		document.KindICAO:      {"sod.econtent"},
		document.KindJPDL:      {"df1_ef01", "df2_ef01"},
		document.KindMyNumber:  {"textap_ef02", "visualap_ef02"},
		document.KindResidence: {"df1_ef01", "df1_ef02"},
	}
	for _, k := range document.Kinds() {
		t.Run(string(k), func(t *testing.T) {
			named, err := chip.Normalize(k, is.read(t, k, nil))
			if err != nil {
				t.Fatal(err)
			}
			objs := chip.SignedObjects(k, named)
			if got := slices.Sorted(maps.Keys(objs)); !slices.Equal(got, want[k]) {
				t.Fatalf("SignedObjects(%s) = %v, want %v", k, got, want[k])
			}
			for n, b := range objs {
				if len(b) == 0 {
					t.Errorf("object %s is empty", n)
				}
			}
			if k == document.KindICAO && bytes.Equal(objs["sod.econtent"], named["sod"]) {
				t.Error("the ICAO object is the whole SOD file, want its signed content")
			}
		})
	}
	a, _ := chip.Normalize(document.KindJPDL, is.read(t, document.KindJPDL, nil))
	other := maps.Clone(a)
	other["df1_ef01"] = append(bytes.Clone(a["df1_ef01"]), 0)
	if bytes.Equal(chip.SignedObjects(document.KindJPDL, other)["df1_ef01"], chip.SignedObjects(document.KindJPDL, a)["df1_ef01"]) {
		t.Error("different signed data gives the same object")
	}
}

// TestBundleDigest: one digest per read whatever its spelling; any byte
// or name changed changes it.
func TestBundleDigest(t *testing.T) {
	is := testIssuers(t)
	raw := is.read(t, document.KindJPDL, nil)
	named, err := chip.Normalize(document.KindJPDL, raw)
	if err != nil {
		t.Fatal(err)
	}
	d := chip.BundleDigest(named)
	respelt := map[string][]byte{}
	for n, b := range named {
		respelt["x/"+n+".BIN"] = b
	}
	again, err := chip.Normalize(document.KindJPDL, respelt)
	if err != nil {
		t.Fatal(err)
	}
	if chip.BundleDigest(again) != d {
		t.Error("BundleDigest differs for the same read spelt another way")
	}
	flipped := maps.Clone(named)
	flipped["df2_ef01"] = bytes.Clone(named["df2_ef01"])
	flipped["df2_ef01"][3] ^= 1
	if chip.BundleDigest(flipped) == d {
		t.Error("BundleDigest ignores a changed byte")
	}
	fewer := maps.Clone(named)
	delete(fewer, "df1_ef02")
	if chip.BundleDigest(fewer) == d {
		t.Error("BundleDigest ignores a missing file")
	}
	// Moving bytes between files changes it (lengths are framed).
	shifted := maps.Clone(named)
	shifted["mf_ef01"] = append(bytes.Clone(named["mf_ef01"]), named["df1_ef01"][0])
	shifted["df1_ef01"] = named["df1_ef01"][1:]
	if chip.BundleDigest(shifted) == d {
		t.Error("BundleDigest ignores bytes moved between files")
	}
}
