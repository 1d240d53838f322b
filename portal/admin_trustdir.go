package portal

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/madoguchi/madoguchi/document/trust"
)

// TrustDir is the ICAO trust directory on disk (document/trust), the one
// `madoguchi trust` writes and the server reads at start-up.
type TrustDir struct {
	// Dir is the anchor directory (trust.ICAODir(data)).
	Dir string
	// Now is the verification time (default time.Now).
	Now func() time.Time

	mu sync.Mutex // one import at a time
}

var _ TrustAnchors = (*TrustDir)(nil)

// Anchors lists the anchors in the directory.
func (d *TrustDir) Anchors(context.Context) ([]TrustAnchor, error) {
	st, err := trust.Load(d.Dir)
	if err != nil {
		return nil, err
	}
	var out []TrustAnchor
	for _, a := range st.Anchors() {
		out = append(out, TrustAnchor{ID: a.ID(), Country: a.Country(), Subject: a.Subject(), NotAfter: a.Cert.NotAfter, Test: a.Test})
	}
	return out, nil
}

// ImportMasterList verifies the list against root (as `madoguchi trust
// import --masterlist` does) and saves its CSCAs. A refused list is
// ErrMasterList; nothing is written then.
func (d *TrustDir) ImportMasterList(_ context.Context, list, root []byte, test, atSigningTime bool) (MasterListImport, error) {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	ml, err := trust.VerifyMasterList(list, [][]byte{root}, trust.VerifyOptions{Now: now(), Policy: trust.DefaultPolicy(), AtSigningTime: atSigningTime})
	if err != nil {
		return MasterListImport{}, fmt.Errorf("%w: %w", ErrMasterList, err)
	}
	var anchors []*trust.Anchor
	for _, c := range ml.Certificates {
		a, err := trust.NewAnchor(c.Raw, test)
		if err != nil {
			return MasterListImport{}, fmt.Errorf("%w: %w", ErrMasterList, err)
		}
		anchors = append(anchors, a)
	}
	unique := trust.NewStore(anchors...).Anchors()
	d.mu.Lock()
	defer d.mu.Unlock()
	added, err := trust.Save(d.Dir, unique)
	if err != nil {
		return MasterListImport{}, err
	}
	return MasterListImport{Signer: ml.Signer.Subject.String(), Anchors: len(unique), Added: added, Skipped: len(ml.Skipped)}, nil
}
