package web

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

type fakeStaff struct{ loggedOut []string }

func (f *fakeStaff) Login(ctx context.Context, u, p, totp string) (string, time.Time, error) {
	switch {
	case u == "locked":
		return "", time.Time{}, ErrLocked
	case u == "boom":
		return "", time.Time{}, errors.New("db gone")
	case u == "alice" && p == "pw" && totp == "123456":
		return "mdg_st_x", time.Unix(1_900_000_000, 0), nil
	}
	return "", time.Time{}, ErrInvalidCredentials
}

func (f *fakeStaff) Logout(ctx context.Context, tok string) error {
	f.loggedOut = append(f.loggedOut, tok)
	return nil
}

func TestStaffSessions(t *testing.T) {
	fs := &fakeStaff{}
	s, logs := newTestServer(t, Config{Staff: fs})
	js := map[string]string{"Content-Type": "application/json"}
	tests := []struct {
		name, body string
		status     int
	}{
		{"ok", `{"username":"alice","password":"pw","totp":"123456"}`, 200},
		{"wrong password", `{"username":"alice","password":"nope","totp":"123456"}`, 401},
		{"unknown user", `{"username":"mallory","password":"pw","totp":"123456"}`, 401},
		{"locked", `{"username":"locked","password":"pw","totp":"123456"}`, 403},
		{"missing totp", `{"username":"alice","password":"pw"}`, 400},
		{"unknown field", `{"username":"alice","password":"pw","totp":"1","admin":true}`, 400},
		{"server fault", `{"username":"boom","password":"pw","totp":"1"}`, 500},
	}
	var unknown, wrong string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, s, "POST", "/v1/staff/sessions", strings.NewReader(tt.body), js)
			if w.Code != tt.status {
				t.Fatalf("login = %d, want %d (%s)", w.Code, tt.status, w.Body)
			}
			if tt.status != 200 {
				p := decodeProblem(t, w)
				switch tt.name {
				case "unknown user":
					unknown = p.Detail
				case "wrong password":
					wrong = p.Detail
				}
				return
			}
			if !strings.Contains(w.Body.String(), `"token":"mdg_st_x"`) {
				t.Errorf("login body = %s", w.Body)
			}
		})
	}
	if unknown != wrong {
		t.Errorf("unknown user and wrong password answer differently: %q vs %q", unknown, wrong)
	}
	if strings.Contains(logs.String(), `"pw"`) || strings.Contains(logs.String(), "123456") {
		t.Errorf("credentials in the log")
	}
	w := do(t, s, "DELETE", "/v1/staff/sessions/current", nil, map[string]string{"Authorization": "Bearer mdg_st_x"})
	if w.Code != 204 || len(fs.loggedOut) != 1 || fs.loggedOut[0] != "mdg_st_x" {
		t.Errorf("logout = %d, logged out %v", w.Code, fs.loggedOut)
	}
	if w := do(t, s, "DELETE", "/v1/staff/sessions/current", nil, nil); w.Code != 401 {
		t.Errorf("logout without token = %d, want 401", w.Code)
	}
}
