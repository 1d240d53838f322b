package jpeg2000

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLocalDir(t *testing.T) {
	dir := os.Getenv("J2KDIR")
	if dir == "" {
		t.Skip()
	}
	files, _ := filepath.Glob(dir + "/*")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if len(b) == 0 {
			continue
		}
		base := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		st := time.Now()
		l := Limits{MaxPixels: 1 << 26, MaxBytes: 1 << 28, MaxCodeBlocks: 1 << 22}
		cs, info, err := unwrap(b)
		var d *decoder
		if err == nil {
			d = &decoder{lim: l.withDefaults(), data: cs}
			err = d.readMainHeader()
			if err == nil {
				err = info.check(&d.siz)
			}
			if err == nil {
				err = d.readTiles()
			}
		}
		el := time.Since(st)
		if err != nil {
			fmt.Printf("%-22s ERR %v\n", base, err)
			continue
		}
		res := ""
		for c := range d.planes {
			ref, err := os.ReadFile(fmt.Sprintf("%s_ref_%s_%d.pgx", os.Getenv("REFPREFIX"), base, c))
			if err != nil {
				ref, err = os.ReadFile(fmt.Sprintf("%s_ref_%s.pgx", os.Getenv("REFPREFIX"), base))
			}
			if err != nil {
				res += fmt.Sprintf(" c%d:noref", c)
				continue
			}
			w, h, want, err := readPGX(ref)
			if err != nil {
				res += fmt.Sprintf(" c%d:%v", c, err)
				continue
			}
			if w != d.pw[c] || h != d.ph[c] {
				res += fmt.Sprintf(" c%d:size %dx%d want %dx%d", c, d.pw[c], d.ph[c], w, h)
				continue
			}
			worst, bad := 0, 0
			for i := range want {
				diff := int(d.planes[c][i]) - int(want[i])
				diff = max(diff, -diff)
				worst = max(worst, diff)
				if diff > 1 {
					bad++
				}
			}
			res += fmt.Sprintf(" c%d:max%d/bad%d", c, worst, bad)
		}
		fmt.Printf("%-22s %v %s\n", base, el.Round(time.Millisecond), res)
	}
}
