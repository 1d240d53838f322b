package ekyc

import (
	"context"
	"fmt"
	"strconv"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
)

// ReenrolFace re-computes the live-face template of an approved session
// with the service's current face engine, from the session's sealed selfie
// frames, for the fraud gallery after a face-model change
// (fraud.Service.Reenrol). It picks the template the decision would
// (the largest face of the first selfie frame that shows one) and returns
// nil if no frame does. The frames are opened under the session's subject
// key in one transaction that also records the read (ekyc.fraud.reenrol,
// naming the engine's model); a shredded subject is vault.ErrShredded, a
// session that was not approved ErrState, another tenant's ErrNotFound.
// The images exist in plaintext only in memory, during this call.
func (s *Service) ReenrolFace(ctx context.Context, actor Actor, tenant, session string) (*face.Template, error) {
	model := s.cfg.Face.Model()
	var imgs [][]byte
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		ss, err := getSession(ctx, tx, tenant, session)
		if err != nil {
			return err
		}
		if ss.Outcome != OutcomeApproved {
			return fmt.Errorf("%w: session %s was not approved", ErrState, session)
		}
		frs, err := s.frames(ctx, tx, ss.ID)
		if err != nil {
			return err
		}
		n := 0
		for _, f := range frs {
			if f.Kind != FrameSelfie {
				continue
			}
			img, err := s.cfg.Vault.OpenBlob(ctx, tx, subjectOf(tenant, ss.subject), frameAAD(ss.ID, f.Seq), f.Ref)
			if err != nil {
				return err
			}
			imgs = append(imgs, img)
			n++
		}
		return s.record(ctx, tx, actor, tenant, "ekyc.fraud.reenrol", ss.ID, audit.OutcomeOK,
			map[string]string{"model": model, "frames": strconv.Itoa(n)})
	})
	defer func() {
		for _, b := range imgs {
			clear(b)
		}
	}()
	if err != nil {
		return nil, err
	}
	for _, img := range imgs {
		fs, err := s.cfg.Face.AnalyzeImage(ctx, img)
		if err != nil {
			return nil, fmt.Errorf("ekyc: re-enrol %s: %w", session, err)
		}
		if len(fs) > 0 {
			t := largest(fs).Embedding
			return &t, nil
		}
	}
	return nil, nil
}
