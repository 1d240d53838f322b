package blob

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestProbe: a probe round-trips on a working folder and leaves nothing
// behind; on a folder that is a file it fails.
func TestProbe(t *testing.T) {
	root := t.TempDir()
	fsb, err := NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := Probe(context.Background(), fsb); err != nil {
		t.Fatalf("Probe(working folder) = %v", err)
	}
	var left []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 0 {
		t.Errorf("Probe left %v", left)
	}
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Probe(context.Background(), &FS{root: file}); err == nil {
		t.Errorf("Probe(a file as root) = nil, want an error")
	}
}
