package ekyc

import (
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestDecodeBudgetBoundsAnalyses: with a budget that holds one image's
// share, concurrent submissions analyse one image at a time; every session
// is still decided (now, or after waiting for the budget).
func TestDecodeBudgetBoundsAnalyses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(c *Config) { c.DecodeBudget = engineWorkingSet + 8<<20 })
		e.face.delay = 5 * time.Millisecond
		var keys []string
		for range 6 {
			c := e.create(e.tenantA, "he")
			p := e.open(c)
			if _, err := e.svc.SubmitChip(e.ctx, kiosk, e.tenantA, c.Session.ID, "jpdl", e.licence(7)); err != nil {
				t.Fatal(err)
			}
			p.selfies(7, 0.95)
			keys = append(keys, p.start.Key)
		}
		var wg sync.WaitGroup
		errs := make([]error, len(keys))
		states := make([]State, len(keys))
		for i, k := range keys {
			wg.Go(func() {
				ss, err := e.svc.Submit(e.ctx, k)
				errs[i] = err
				if err == nil {
					states[i] = ss.State
				}
			})
		}
		wg.Wait()
		for i := range keys {
			if errs[i] != nil || states[i] != StateDecided {
				t.Errorf("Submit %d = %s, %v, want decided", i, states[i], errs[i])
			}
		}
		if e.face.maxActive != 1 {
			t.Errorf("%d analyses ran at once, want 1 (the budget holds one image)", e.face.maxActive)
		}
	})
}

func TestCheckImageBudget(t *testing.T) {
	if err := checkImage(specPNG(t, faceSpec{ID: 1})); err != nil {
		t.Errorf("checkImage(small PNG) = %v, want nil", err)
	}
}
