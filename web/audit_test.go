package web

import (
	"context"
	"testing"
)

type fakeAudit struct{}

func (fakeAudit) Checkpoint(ctx context.Context) ([]byte, error) { return []byte("cp\n"), nil }
func (fakeAudit) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	return nil, ErrProofRange
}
func (fakeAudit) ConsistencyProof(ctx context.Context, o, n uint64) ([][]byte, error) {
	return nil, ErrProofRange
}
func (fakeAudit) Entry(ctx context.Context, index uint64) (string, []byte, error) {
	return "ten-a", []byte("leaf"), nil
}
func (fakeAudit) VerifierKey() string { return "example.com/log+12345678+AQID" }

// TestAuditKey: the verifier key is public, one line, cacheable.
func TestAuditKey(t *testing.T) {
	s, _ := newTestServer(t, Config{Audit: fakeAudit{}})
	w := do(t, s, "GET", "/v1/audit/key", nil, nil)
	if w.Code != 200 || w.Body.String() != "example.com/log+12345678+AQID\n" {
		t.Fatalf("key = %d %q", w.Code, w.Body)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "public, max-age=86400" {
		t.Errorf("Cache-Control = %q", cc)
	}
}
