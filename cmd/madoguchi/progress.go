package main

import (
	"github.com/madoguchi/madoguchi/internal/progress"
)

// newProgress starts a progress reporter on stderr for long work (models
// install, keys rewrap, face evaluate and calibrate, trust import,
// migrate). MADOGUCHI_PROGRESS chooses: auto (default: a redrawn line on a
// terminal, nothing otherwise), off, line, or json (JSON lines, for
// machines watching long work; docs/operations.md).
func newProgress(e *env, name string, total int64, unit string) (*progress.Reporter, error) {
	m, err := progress.ParseMode(e.getenv("MADOGUCHI_PROGRESS"))
	if err != nil {
		return nil, usageError{"MADOGUCHI_PROGRESS: " + err.Error()}
	}
	return progress.New(e.stderr, name, total, progress.Options{Mode: m, Unit: unit}), nil
}
