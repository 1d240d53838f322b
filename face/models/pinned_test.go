package models_test

import (
	"context"
	"testing"

	"github.com/madoguchi/madoguchi/face/internal/facetest"
	"github.com/madoguchi/madoguchi/face/models"
)

// TestPinnedInstall installs the real pinned packages (once per machine, see
// facetest) and checks them against the pins.
func TestPinnedInstall(t *testing.T) {
	dir := facetest.Models(t)
	if err := models.Verify(dir, models.Pinned()); err != nil {
		t.Fatalf("Verify(%s) = %v, want nil", dir, err)
	}
	rep, err := models.Install(context.Background(), dir, models.Pinned(), models.Options{Fetch: noFetch{t}})
	if err != nil || len(rep.Installed) != 0 {
		t.Fatalf("Install(installed folder) = %+v, %v; want nothing to do", rep, err)
	}
}

type noFetch struct{ t *testing.T }

func (n noFetch) Fetch(context.Context, models.Package, string) (string, error) {
	n.t.Error("Fetch called on an installed folder")
	return "", models.ErrFetch
}

func TestPinnedSamples(t *testing.T) {
	dir := facetest.Samples(t)
	if dir == "" {
		t.Fatal("Samples returned an empty dir")
	}
}
