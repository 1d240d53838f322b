package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"testing"
)

// browserRun is what a browser script (e2e/browser/*.mjs) reported on
// standard output, one JSON event a line: the checks it passed, the
// screenshots and axe-core runs it made, the values it read for the test
// to judge ({"event":"value","name":…,"value":…}), its steps slower than
// 2 s (for scripts that stamp events with "ms") and its last stamp.
type browserRun struct {
	checks       []string
	screens, axe int
	values       map[string]string
	slow         []string
	lastMs       int
}

// runBrowserScript runs `node script arg` in browserDir until it reports
// "done" and exits 0; otherwise the test fails with the checks passed so
// far, the script's stderr and the tail of the server's log (srv is nil
// for a server in the test's own process).
func runBrowserScript(ctx context.Context, t *testing.T, script string, arg []byte, srv *serverProc) browserRun {
	t.Helper()
	cmd := exec.CommandContext(ctx, "node", script, string(arg))
	cmd.Dir = browserDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := browserRun{values: map[string]string{}}
	done := false
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var ev struct {
			Event, Name, Value string
			Ms                 int
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		if ev.Ms-r.lastMs > 2000 {
			r.slow = append(r.slow, fmt.Sprintf("%s %s: %d ms", ev.Event, ev.Name, ev.Ms-r.lastMs))
		}
		if ev.Ms > 0 {
			r.lastMs = ev.Ms
		}
		switch ev.Event {
		case "check":
			r.checks = append(r.checks, ev.Name)
		case "screenshot":
			r.screens++
		case "axe":
			r.axe++
		case "value":
			r.values[ev.Name] = ev.Value
		case "done":
			done = true
		}
	}
	if err := cmd.Wait(); err != nil || !done {
		logs := "(in process)"
		if srv != nil {
			logs = tail(srv.logText(), 3000)
		}
		t.Fatalf("%s: %v\nchecks passed: %v\nstderr:\n%s\nserver log tail:\n%s", script, err, r.checks, stderr.String(), logs)
	}
	return r
}
