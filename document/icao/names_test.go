package icao

import (
	"errors"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document"
)

func TestFileName(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"EF.SOD.bin", "sod", true}, {"/tmp/x/sod", "sod", true}, {"011D", "sod", true}, {"com.der", "com", true},
		{"DG1.bin", "dg1", true}, {"dg02", "dg2", true}, {"dg16", "dg16", true}, {"AA.bin", "aa", true},
		{"dg0", "", false}, {"dg17", "", false}, {"photo.jpg", "", false}, {"dgx", "", false}, {"", "", false},
	}
	for _, tt := range tests {
		if got, ok := FileName(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("FileName(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFilesFromNamed(t *testing.T) {
	f, aa, err := FilesFromNamed(map[string][]byte{"EF.SOD": {1}, "dg1.bin": {2}, "DG15": {3}, "aa": {4}, "com": {5}})
	if err != nil || f.SOD[0] != 1 || f.DG[1][0] != 2 || f.DG[15][0] != 3 || aa[0] != 4 || f.COM[0] != 5 {
		t.Errorf("FilesFromNamed = %+v, %v, %v", f, aa, err)
	}
	for _, bad := range []map[string][]byte{{"photo.jpg": {1}}, {"dg1": {1}, "DG01.bin": {2}}} {
		if _, _, err := FilesFromNamed(bad); !errors.Is(err, document.ErrNotAccepted) {
			t.Errorf("FilesFromNamed(%v) = %v, want ErrNotAccepted", bad, err)
		}
	}
	v := &Verifier{}
	if _, err := v.VerifyNamed(map[string][]byte{"aa": {1}}, nil, time.Time{}); !errors.Is(err, document.ErrChallenge) {
		t.Errorf("VerifyNamed(aa without challenge) = %v, want ErrChallenge", err)
	}
}
