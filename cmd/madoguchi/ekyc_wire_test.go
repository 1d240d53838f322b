package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/web"
)

func TestEKYCWiring(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	a, err := openApp(ctx, modeDevelopment, dataFlags{data: dir}, log, true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.models = newModelSet(filepath.Join(dir, "models")) // never verified here
	if a.ekycWeb() != nil {
		t.Fatal("ekycWeb before the service is built = non-nil, want nil (eKYC disabled)")
	}
	svc, err := a.newEKYC("http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	a.ekyc = svc
	c := a.ekycWeb()
	if c == nil || c.Service == nil || c.Staff == nil {
		t.Fatal("ekycWeb(development) = nil or without review auth, want the eKYC API")
	}
	if _, err := c.Staff(ctx, "mdg_st_not-a-session"); !errors.Is(err, web.ErrInvalidToken) {
		t.Errorf("review auth(bogus staff token) = %v, want web.ErrInvalidToken", err)
	}
	st, err := staffReviewer(func(context.Context, string) (staff.Principal, error) {
		return staff.Principal{StaffID: "st_1", Roles: []staff.Role{staff.RoleReviewer}}, nil
	})(ctx, "tok")
	if err != nil || st.ID != "st_1" || len(st.Roles) != 1 || st.Roles[0] != ekyc.RoleReviewer {
		t.Errorf("staffReviewer = %+v, %v", st, err)
	}
	if st.TenantID != "" {
		t.Errorf("staffReviewer(operator) tenant = %q, want none", st.TenantID)
	}
	// A tenant's reviewer is scoped to the tenant by the ekyc service.
	st, err = staffReviewer(func(context.Context, string) (staff.Principal, error) {
		return staff.Principal{StaffID: "st_2", TenantID: "tn_a", Roles: []staff.Role{staff.RoleReviewer}}, nil
	})(ctx, "tok")
	if err != nil || st.ID != "st_2" || st.TenantID != "tn_a" || len(st.Roles) != 1 {
		t.Errorf("staffReviewer(tenant reviewer) = %+v, %v; want the reviewer role in tenant tn_a", st, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "keys", "ekyc-result.pem"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("development result key: %v, mode %v; want a 0600 file", err, fi.Mode().Perm())
	}
	// Until the models are verified the face engine is busy (sessions wait),
	// and it never matches.
	lf := &lazyFace{models: a.models, dir: a.modelsDir()}
	if _, err := lf.AnalyzeImage(ctx, []byte{1}); !errors.Is(err, face.ErrBusy) {
		t.Errorf("AnalyzeImage(models not ready) = %v, want face.ErrBusy", err)
	}
	if d, err := lf.Decide(0.99); d != face.Refer || err == nil {
		t.Errorf("Decide(models not ready) = %v, %v, want refer with an error", d, err)
	}
	// The jobs stop with their context.
	jctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { a.runEKYCJobs(jctx); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("runEKYCJobs did not stop with its context")
	}

	// Production refuses to build the service without a provisioned key.
	pdir := t.TempDir()
	p := &app{mode: modeProduction, data: dataFlags{data: pdir}, log: log, db: a.db, audit: a.audit, vault: a.vault, blobs: a.blobs}
	if _, err := p.newEKYC("https://bank.example"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("newEKYC(production, no key) = %v, want fs.ErrNotExist", err)
	}
	if c := p.ekycWeb(); c != nil {
		t.Error("ekycWeb(production, no key) enabled the API")
	}
}
