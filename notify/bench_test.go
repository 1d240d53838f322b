package notify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// BenchmarkSign: signing one webhook (Content-Digest + RFC 9421 Ed25519),
// against the bare ed25519.Sign of a same-size message as the baseline.
func BenchmarkSign(b *testing.B) {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	s, _ := notify.NewSigner(k)
	body := []byte(strings.Repeat("x", 2048))
	now := time.Now()
	b.Run("notify.Sign", func(b *testing.B) {
		for b.Loop() {
			r, _ := http.NewRequest("POST", "https://bank.example/hooks", nil)
			r.Header.Set("Content-Type", "application/jwt")
			r.Header.Set("Webhook-Id", "ev_1")
			if err := s.Sign(r, body, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare_ed25519", func(b *testing.B) {
		msg := make([]byte, 300)
		for b.Loop() {
			ed25519.Sign(k, msg)
		}
	})
}

// BenchmarkEnqueueToDelivered: enqueue one event in a transaction and
// deliver it to a loopback receiver; the baseline is the same POST without
// the outbox (a plain http.Post to the same receiver).
func BenchmarkEnqueueToDelivered(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	t := &testing.T{}
	e := newEnv(t, storetest.SQLite(b))
	e.t = t
	n := e.notifier(func(c *notify.Config) { c.Now = time.Now })
	ctx := context.Background()
	b.Run("outbox", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			err := e.db.InTx(ctx, func(tx *store.Tx) error {
				_, err := n.Enqueue(ctx, tx, event(srv.URL, fmt.Sprintf("ev_b%d", i)))
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			if k, err := n.DeliverDue(ctx); k != 1 || err != nil {
				b.Fatalf("DeliverDue = %d, %v", k, err)
			}
		}
	})
	b.Run("bare_post", func(b *testing.B) {
		for b.Loop() {
			resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"hello":"x"}`))
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
		}
	})
}
