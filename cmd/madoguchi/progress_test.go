package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/internal/progress"
	"github.com/madoguchi/madoguchi/store"
)

// TestProgressMigrate: migrate is quiet on stderr when it is not a
// terminal, writes JSON lines ending in a finished event with
// MADOGUCHI_PROGRESS=json, and refuses an unknown mode.
func TestProgressMigrate(t *testing.T) {
	ms, err := store.Migrations(store.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		mode string
		code int
	}{{"", 0}, {"json", 0}, {"chatty", 2}} {
		var out, errb bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string {
			if k == "MADOGUCHI_PROGRESS" {
				return tt.mode
			}
			return ""
		}}
		code := run(context.Background(), e, []string{"migrate", "--data", t.TempDir()})
		if code != tt.code {
			t.Fatalf("MADOGUCHI_PROGRESS=%q migrate: exit %d, want %d; stderr %s", tt.mode, code, tt.code, errb.String())
		}
		switch tt.mode {
		case "":
			if errb.Len() != 0 {
				t.Errorf("migrate without a terminal wrote %q to stderr", errb.String())
			}
		case "json":
			lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
			var last progress.Event
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
				t.Fatalf("last progress line %q: %v", lines[len(lines)-1], err)
			}
			if !last.Finished || last.Name != "migrate" || last.Done != int64(len(ms)) || last.Total != int64(len(ms)) {
				t.Errorf("last progress event %+v, want migrate finished at %d of %d", last, len(ms), len(ms))
			}
		}
	}
}
