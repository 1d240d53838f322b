package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestServeInstances: two `madoguchi serve` processes on one PostgreSQL
// schema count each other (the madoguchi_instances gauge, by which each
// divides the rate limits); a graceful stop deletes the stopping
// instance's heartbeat row before the process exits, and the other then
// counts itself alone at its next heartbeat.
func TestServeInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two server processes")
	}
	pg := storetest.PostgresURL(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	srvA := startServer(t, dirA, "--db", pg)
	copyTree(t, dirA, dirB) // B is provisioned with A's keys
	srvB := startServer(t, dirB, "--db", pg)

	gauge := func(p *serverProc) int {
		t.Helper()
		resp, err := http.Get(p.url() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := regexp.MustCompile(`(?m)^madoguchi_instances (\d+)$`).FindSubmatch(b)
		if m == nil || !regexp.MustCompile(`(?m)^madoguchi_instances_heartbeat_ok 1$`).Match(b) {
			t.Fatalf("metrics lack madoguchi_instances or a healthy heartbeat:\n%s", b)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	waitCount := func(p *serverProc, name string, want int) {
		t.Helper()
		start := time.Now()
		for gauge(p) != want {
			if time.Since(start) > 20*time.Second {
				t.Fatalf("%s counts %d instances after %v, want %d", name, gauge(p), time.Since(start).Round(time.Second), want)
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Logf("%s counts %d after %v", name, want, time.Since(start).Round(100*time.Millisecond))
	}
	// B's first heartbeat, before it served, already saw A.
	if n := gauge(srvB); n != 2 {
		t.Errorf("B counts %d instances when ready, want 2", n)
	}
	waitCount(srvA, "A", 2)

	if code := srvB.stop(t); code != 0 {
		t.Fatalf("B exited %d after SIGTERM:\n%s", code, srvB.logText())
	}
	db, err := store.Open(context.Background(), pg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM cluster_instances`).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("heartbeat rows after B's graceful stop = %d, %v; want 1 (A's)", rows, err)
	}
	waitCount(srvA, "A", 1)
}
