package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/staff"
)

// TestStaffLoginOverHTTP signs a bootstrapped admin in through the server
// with password and TOTP, refuses a replayed code, and signs out.
func TestStaffLoginOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("argon2id at production cost and server processes")
	}
	dir := t.TempDir()
	out, err := adminRun(t, "correct horse battery staple\n", "staff", "create", "--username", "alice", "--role", "admin", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	alice := &user{uri: strings.Split(strings.TrimSpace(out), "\n")[1]}
	srv := startServer(t, dir)

	login := func(creds string) (*http.Response, map[string]any) {
		parts := strings.Split(strings.TrimSpace(creds), "\n")
		body, _ := json.Marshal(map[string]string{"username": "alice", "password": parts[0], "totp": parts[1]})
		resp, err := http.Post(srv.url()+"/v1/staff/sessions", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp, m
	}
	creds := alice.creds(t)
	resp, m := login(creds)
	if resp.StatusCode != 200 {
		t.Fatalf("login = %d %v", resp.StatusCode, m)
	}
	tok, _ := m["token"].(string)
	if !strings.HasPrefix(tok, "mdg_st_") {
		t.Fatalf("token = %q", tok)
	}
	// The same one-time code again is refused.
	if resp, m := login(creds); resp.StatusCode != 401 {
		t.Errorf("replayed TOTP login = %d %v, want 401", resp.StatusCode, m)
	}
	if resp, _ := login("wrong password\n000000\n"); resp.StatusCode != 401 {
		t.Errorf("wrong password = %d, want 401", resp.StatusCode)
	}
	a := testApp(t, dir)
	if p, err := a.staff.CheckSession(context.Background(), tok); err != nil || p.StaffID == "" {
		t.Fatalf("CheckSession after login = %+v, %v", p, err)
	}
	req, _ := http.NewRequest("DELETE", srv.url()+"/v1/staff/sessions/current", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Errorf("logout = %d, want 204", resp.StatusCode)
	}
	if _, err := a.staff.CheckSession(context.Background(), tok); !errors.Is(err, staff.ErrSession) {
		t.Errorf("CheckSession after logout = %v, want ErrSession", err)
	}
	if strings.Contains(srv.logText(), "correct horse") {
		t.Errorf("password in the server log")
	}
}
