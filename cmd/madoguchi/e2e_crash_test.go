package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/blob"
	"github.com/madoguchi/madoguchi/store"
)

// blobWriter runs in a child process: it writes sealed blobs and the records
// that point at them (with their audit entries) as fast as it can, printing
// one line per committed record, until it is killed.
func blobWriter(dir string) {
	ctx := context.Background()
	a, err := openApp(ctx, modeDevelopment, dataFlags{data: dir}, slog.New(slog.DiscardHandler), true)
	if err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		os.Exit(3)
	}
	subj := vaultSubject("crash-tenant", "subject-1")
	for i := 0; ; i++ {
		owner := fmt.Sprintf("record-%d", i)
		ref, err := a.vault.SealBlob(ctx, subj, []byte(owner), make([]byte, 64<<10))
		if err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			os.Exit(3)
		}
		err = a.db.InTx(ctx, func(tx *store.Tx) error {
			if err := a.blobs.Attach(ctx, tx, ref, "crash-tenant", owner); err != nil {
				return err
			}
			_, err := a.audit.Append(ctx, tx, audit.Entry{Time: time.Now(), ActorKind: "system", ActorID: "crash-writer",
				TenantID: "crash-tenant", Action: "record.create", Object: owner, Outcome: "ok"})
			return err
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			os.Exit(3)
		}
		fmt.Println("committed", owner)
	}
}

// TestKilledMidWrite kills the server (SIGKILL) while clients obtain tokens
// (each a client-assertion row, a token row and an audit entry) and kills a
// writer process in the middle of blob+record writes; after a restart the
// audit log verifies and no record points at a missing or corrupt blob.
func TestKilledMidWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	srv := startServer(t, dir, "--rate-limit", "0")
	a := testApp(t, dir)
	c := newTenantClient(t, a, srv.url(), "Crash Bank", "audit:read")

	writer := exec.Command(os.Args[0])
	writer.Env = append(os.Environ(), "MADOGUCHI_TEST_BLOB_WRITER="+dir)
	out, err := writer.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	var committed atomic.Int64
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			committed.Add(1)
		}
	}()

	// Token load against the server from several goroutines.
	var tokens atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 5 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				as, err := c.assertion(time.Now())
				if err != nil {
					return
				}
				resp, err := hc.PostForm(srv.url()+"/v1/oauth/token", url.Values{"grant_type": {"client_credentials"},
					"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
					"client_assertion":      {as}})
				if err != nil {
					continue // the server is being killed
				}
				resp.Body.Close()
				if resp.StatusCode == 200 {
					tokens.Add(1)
				}
			}
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for (tokens.Load() < 30 || committed.Load() < 30) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	srv.kill()
	_ = writer.Process.Kill()
	_ = writer.Wait()
	close(stop)
	wg.Wait()
	if tokens.Load() < 30 || committed.Load() < 30 {
		t.Fatalf("load too light before the kill: %d tokens, %d records", tokens.Load(), committed.Load())
	}
	a.Close()

	// Restart: the server comes back and serves, under the same public URL
	// (the audience its clients sign for) on a new port.
	srv2 := startServer(t, dir, "--public-url", srv.url())
	b := testApp(t, dir)
	rep, err := audit.VerifyStore(ctx, b.db, b.audit.VerifierKey())
	if err != nil {
		t.Fatalf("audit log after SIGKILL: %v", err)
	}
	if rep.Size < uint64(tokens.Load()+committed.Load()) {
		t.Errorf("audit size %d < %d tokens + %d records acknowledged before the kill", rep.Size, tokens.Load(), committed.Load())
	}
	rows, err := b.db.Query(ctx, `SELECT hash, owner FROM blob_refs WHERE tenant_id = ?`, "crash-tenant")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for rows.Next() {
		var hash, owner string
		if err := rows.Scan(&hash, &owner); err != nil {
			t.Fatal(err)
		}
		ref, err := blob.ParseRef("sha256:" + hash)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.vault.OpenBlob(ctx, b.db, vaultSubject("crash-tenant", "subject-1"), []byte(owner), ref); err != nil {
			t.Errorf("record %s points at an unreadable blob: %v", owner, err)
		}
		n++
	}
	rows.Close()
	if int64(n) < committed.Load() {
		t.Errorf("%d records survive, %d were acknowledged", n, committed.Load())
	}
	c.base = srv2.url()
	if err := c.call(ctx, "GET", "/v1/whoami", nil, nil); err != nil {
		t.Errorf("API after restart: %v", err)
	}
	if code := srv2.stop(t); code != 0 {
		t.Errorf("exit = %d", code)
	}
}
