package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const unitPath = "../../deploy/systemd/madoguchi.service"

// unitDirectives reads a unit file into directive -> values.
func unitDirectives(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is not a directive", path, line)
		}
		out[k] = append(out[k], v)
	}
	return out
}

// TestSystemdUnit: the unit keeps its hardening, names only settings serve
// has, and passes systemd-analyze verify and an offline security score of
// at most 2.0 where systemd-analyze is installed.
func TestSystemdUnit(t *testing.T) {
	d := unitDirectives(t, unitPath)
	for k, want := range map[string]string{
		"User": "madoguchi", "Group": "madoguchi", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
		"ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "",
		"AmbientCapabilities": "", "ReadWritePaths": "/var/lib/madoguchi", "StateDirectoryMode": "0700",
		"UMask": "0077", "MemoryDenyWriteExecute": "yes", "RestrictSUIDSGID": "yes", "KillSignal": "SIGTERM",
		"ExecStart": "/usr/local/bin/madoguchi serve",
	} {
		if v := d[k]; len(v) != 1 || v[0] != want {
			t.Errorf("%s = %q, want exactly %q", k, v, want)
		}
	}
	// Every MADOGUCHI_* variable the unit sets is one serve reads.
	var help bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &help, stderr: &help, getenv: func(string) string { return "" }}
	run(context.Background(), e, []string{"serve", "-h"})
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`\(env (MADOGUCHI_[A-Z0-9_]+)\)`).FindAllStringSubmatch(help.String(), -1) {
		known[m[1]] = true
	}
	set := map[string]string{}
	for _, line := range d["Environment"] {
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			set[k] = v
			if !known[k] {
				t.Errorf("the unit sets %s, which serve does not read", k)
			}
		}
	}
	// MemoryDenyWriteExecute would break npm (a JIT) in a background
	// models install: the unit must turn that off.
	if set["MADOGUCHI_MODELS_INSTALL"] != "off" || set["MADOGUCHI_MODE"] != "production" {
		t.Errorf("unit environment %v: want production mode and models-install off", set)
	}

	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: unit not linted")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	// verify checks that ExecStart exists: point it at this test binary.
	local := filepath.Join(t.TempDir(), "madoguchi.service")
	if err := os.WriteFile(local, bytes.ReplaceAll(b, []byte("/usr/local/bin/madoguchi"), []byte(exe)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sa, "verify", local).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	if out, err := exec.Command(sa, "security", "--offline=true", "--threshold=20", local).CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze security --offline: exposure above 2.0 (%v)\n%s", err, out)
	}
}
