package main

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/madoguchi/madoguchi/face/models"
)

// modelSet is the server's face model folder. At start the server verifies
// it and, if allowed, installs what is missing in the background, so start-up
// stays fast; features that need the models answer 503 until ready() is true.
type modelSet struct {
	dir string
	// pkgs are the packages the server's face engine reads (its
	// recogniser's: face.ModelFolders); all pinned ones by default.
	pkgs []models.Package
	ok   atomic.Bool
}

func newModelSet(dir string) *modelSet { return &modelSet{dir: dir, pkgs: models.Pinned()} }

func (m *modelSet) ready() bool { return m.ok.Load() }

// ensure verifies the folder and installs missing models if install is set.
// It returns when done or when ctx ends; the server owns it and cancels ctx
// at shutdown.
func (m *modelSet) ensure(ctx context.Context, log *slog.Logger, install bool) {
	if err := models.Verify(m.dir, m.pkgs); err == nil {
		m.ok.Store(true)
		log.Info("face models verified", "dir", m.dir)
		return
	} else if !install {
		log.Warn("face models missing or do not verify; face features are unavailable (run 'madoguchi models install')", "dir", m.dir, "err", err)
		return
	}
	log.Info("installing face models in the background", "dir", m.dir)
	rep, err := models.Install(ctx, m.dir, m.pkgs, models.Options{})
	if err != nil {
		log.Error("face model install failed; face features are unavailable", "dir", m.dir, "err", err)
		return
	}
	m.ok.Store(true)
	log.Info("face models installed", "dir", m.dir, "installed", len(rep.Installed), "unchanged", len(rep.Unchanged))
}
