package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenAppFailsClosed: a missing key, a development data directory in
// production, or an unreachable KMS stops start-up.
func TestOpenAppFailsClosed(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)

	dev := t.TempDir()
	a, err := openApp(ctx, modeDevelopment, dataFlags{data: dev}, quiet, true)
	if err != nil {
		t.Fatalf("development openApp: %v", err)
	}
	if len(a.devKeys) != 2 || !isDevelopment(dev) {
		t.Errorf("development start generated %d keys, marker %v; want 2 keys and the marker", len(a.devKeys), isDevelopment(dev))
	}
	a.Close()

	tests := []struct {
		name string
		mode string
		d    func() dataFlags
		want string
	}{
		{"production on a development directory", modeProduction, func() dataFlags { return dataFlags{data: dev} }, "development keys"},
		{"production without keys", modeProduction, func() dataFlags { return dataFlags{data: t.TempDir()} }, "missing"},
		{"unreachable KMS", modeDevelopment, func() dataFlags {
			return dataFlags{data: t.TempDir(), kmsAddr: "http://127.0.0.1:1", kmsMount: "transit", kmsKey: "k", kmsToken: "t"}
		}, "transit KMS"},
		{"unknown mode", "staging", func() dataFlags { return dataFlags{data: t.TempDir()} }, "mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := openApp(ctx, tt.mode, tt.d(), quiet, true)
			if err == nil {
				a.Close()
				t.Fatalf("openApp = nil error, want one mentioning %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("openApp error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}

	// A key file readable by others is refused even in development.
	lax := t.TempDir()
	if a, err := openApp(ctx, modeDevelopment, dataFlags{data: lax}, quiet, true); err != nil {
		t.Fatal(err)
	} else {
		a.Close()
	}
	if err := os.Chmod(filepath.Join(lax, "keys", "kek.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if a, err := openApp(ctx, modeDevelopment, dataFlags{data: lax}, quiet, true); err == nil {
		a.Close()
		t.Errorf("openApp with a world-readable KEK file succeeded")
	}
}
