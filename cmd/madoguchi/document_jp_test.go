package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/jpdl/jpdltest"
	"github.com/madoguchi/madoguchi/document/mynumber"
	"github.com/madoguchi/madoguchi/document/mynumber/mynumbertest"
	"github.com/madoguchi/madoguchi/document/residence/residencetest"
)

func writeFiles(t *testing.T, dir string, files map[string][]byte) []string {
	t.Helper()
	var paths []string
	for name, b := range files {
		if len(b) == 0 {
			continue
		}
		p := filepath.Join(dir, name+".bin")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func writeTrust(t *testing.T, dir string, kind document.Kind, pemData []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, string(kind)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, string(kind), "anchor.pem"), pemData, 0o600); err != nil {
		t.Fatal(err)
	}
}

var jpNow = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

func TestJPVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("generates RSA keys")
	}
	trust, chips := t.TempDir(), t.TempDir()
	const myNumber = "111122223333"

	dl, err := jpdltest.New(rand.Reader, "test 公安委員会")
	if err != nil {
		t.Fatal(err)
	}
	writeTrust(t, trust, document.KindJPDL, dl.CertificatePEM())
	lf, err := dl.Issue(jpdltest.Licence{Name: "山田　太郎", Address: "東京都", Honseki: "東京都", PSC: "東京都公安委員会",
		Birth: time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC), Issued: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		Expiry: time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC), Number: "301234567890"})
	if err != nil {
		t.Fatal(err)
	}
	dlPaths := writeFiles(t, filepath.Join(chips), map[string][]byte{
		"mf_ef01": lf.Common, "df1_ef01": lf.Matters, "df1_ef02": lf.Honseki, "df1_ef07": lf.Signature, "df2_ef01": lf.Photo,
	})

	mn, err := mynumbertest.New(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	anchorPEM, err := mynumber.MarshalAnchorPEM(mn.Anchor())
	if err != nil {
		t.Fatal(err)
	}
	writeTrust(t, trust, document.KindMyNumber, anchorPEM)
	mf, err := mn.Issue(mynumbertest.Card{MyNumber: myNumber, Name: "山田　花子", Address: "大阪府", Sex: "2",
		Birth: time.Date(1985, 5, 5, 0, 0, 0, 0, time.UTC), Expiry: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	mnDir := filepath.Join(chips, "mn")
	os.Mkdir(mnDir, 0o700)
	mnPaths := writeFiles(t, mnDir, map[string][]byte{
		"TEXTAP_EF01": mf.MyNumber, "textap_ef02": mf.Basic4, "textap_ef03": mf.TextSignature, "textap_ef04": mf.TextCert,
		"visualap_ef02": mf.Visual, "visualap_ef04": mf.VisualCert,
	})

	rc, err := residencetest.New(rand.Reader, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	writeTrust(t, trust, document.KindResidence, rc.RootPEM())
	rf, err := rc.Issue(residencetest.Card{})
	if err != nil {
		t.Fatal(err)
	}
	rcDir := filepath.Join(chips, "rc")
	os.Mkdir(rcDir, 0o700)
	rcPaths := writeFiles(t, rcDir, map[string][]byte{"mf_ef01": rf.Common, "df1_ef01": rf.Front, "df1_ef02": rf.Face, "df3_ef01": rf.Signature})

	for _, tc := range []struct {
		kind  document.Kind
		paths []string
	}{{document.KindJPDL, dlPaths}, {document.KindMyNumber, mnPaths}, {document.KindResidence, rcPaths}} {
		t.Run(string(tc.kind), func(t *testing.T) {
			if _, err := jpVerify(tc.kind, trust, false, tc.paths, jpNow); !errors.Is(err, document.ErrTestAnchor) {
				t.Errorf("jpVerify(%s, production) error = %v, want ErrTestAnchor", tc.kind, err)
			}
			ev, err := jpVerify(tc.kind, trust, true, tc.paths, jpNow)
			if err != nil || !ev.Verified {
				t.Fatalf("jpVerify(%s, test anchors allowed) = %v, %v; want verified", tc.kind, ev, err)
			}
			j, _ := json.Marshal(ev)
			r, _ := ev.RevealedJSON()
			for _, out := range []string{string(j), string(r)} {
				if strings.Contains(out, myNumber) {
					t.Errorf("jpVerify(%s) output contains the My Number", tc.kind)
				}
			}
			if strings.Contains(string(j), "山田") {
				t.Errorf("jpVerify(%s) redacted JSON contains a name", tc.kind)
			}
		})
	}

	t.Run("start-up check", func(t *testing.T) {
		if err := checkJPTrust(trust); !errors.Is(err, document.ErrTestAnchor) {
			t.Errorf("checkJPTrust(test anchors) = %v, want ErrTestAnchor", err)
		}
		if err := checkJPTrust(t.TempDir()); !errors.Is(err, errNoTrust) {
			t.Errorf("checkJPTrust(empty) = %v, want errNoTrust", err)
		}
	})
	t.Run("mixed bundle", func(t *testing.T) {
		paths := append(append([]string{}, dlPaths...), mnPaths[1])
		if _, err := jpVerify(document.KindJPDL, trust, true, paths, jpNow); !errors.Is(err, document.ErrNotAccepted) {
			t.Errorf("jpVerify(licence + My Number file) error = %v, want ErrNotAccepted", err)
		}
	})
	t.Run("unknown file name", func(t *testing.T) {
		p := filepath.Join(chips, "photo.jp2")
		os.WriteFile(p, []byte{1}, 0o600)
		var ue usageError
		if _, err := jpVerify(document.KindJPDL, trust, true, []string{p}, jpNow); !errors.As(err, &ue) {
			t.Errorf("jpVerify(unknown name) error = %v, want usageError", err)
		}
	})
	t.Run("no trust", func(t *testing.T) {
		if _, err := jpVerify(document.KindJPDL, t.TempDir(), true, dlPaths, jpNow); !errors.Is(err, errNoTrust) {
			t.Errorf("jpVerify(empty trust dir) error = %v, want errNoTrust", err)
		}
	})
	t.Run("wrong kind's anchors", func(t *testing.T) {
		other := t.TempDir()
		writeTrust(t, other, document.KindJPDL, anchorPEM)
		if _, err := jpVerify(document.KindJPDL, other, true, dlPaths, jpNow); err == nil {
			t.Errorf("jpVerify(My Number key as licence anchor) succeeded")
		}
	})
}
