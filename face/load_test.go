package face

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/madoguchi/madoguchi/face/internal/facetest"
)

// TestModelIDMatchesLoad: ModelID predicts, without weights, the model id
// of the engine Load builds, and Load succeeds from exactly the folders
// ModelFolders names (a server checks both at start).
func TestModelIDMatchesLoad(t *testing.T) {
	real := facetest.Models(t)
	for _, opt := range []LoadOptions{
		{},
		{Recognizer: "resnet128"},
		{Recognizer: "mfn512", Detector: "ssd"},
		{Recognizer: "mfn512", Config: Config{Align: AlignArcFace}},
		{Recognizer: "resnet128", Config: Config{Align: AlignDlib}},
	} {
		id, err := ModelID(opt)
		if err != nil {
			t.Fatalf("ModelID(%+v) = %v", opt, err)
		}
		folders, err := ModelFolders(opt)
		if err != nil {
			t.Fatalf("ModelFolders(%+v) = %v", opt, err)
		}
		dir := t.TempDir()
		for _, sub := range folders {
			if err := os.Symlink(filepath.Join(real, sub), filepath.Join(dir, sub)); err != nil {
				t.Fatal(err)
			}
		}
		e, err := Load(dir, opt)
		if err != nil {
			t.Fatalf("Load(only %v, %+v) = %v", folders, opt, err)
		}
		if e.Model() != id {
			t.Errorf("ModelID(%+v) = %q, Load(...).Model() = %q", opt, id, e.Model())
		}
	}
	if f, _ := ModelFolders(LoadOptions{}); !slices.Contains(f, "faceplugin") {
		t.Errorf("ModelFolders(default) = %v, want faceplugin (the default recogniser's)", f)
	}
}

// TestModelIDRefuses: unknown names and an alignment that does not fit the
// recogniser are configuration errors, as they are for Load.
func TestModelIDRefuses(t *testing.T) {
	for _, opt := range []LoadOptions{
		{Recognizer: "arcface-r100"},
		{Detector: "retinaface"},
		{Recognizer: "mfn512", Config: Config{Align: AlignDlibFlip}},
		{Recognizer: "resnet128", Config: Config{Align: AlignArcFaceFlip}},
	} {
		if _, err := ModelID(opt); !errors.Is(err, ErrConfig) {
			t.Errorf("ModelID(%+v) = %v, want ErrConfig", opt, err)
		}
	}
	if _, err := ModelFolders(LoadOptions{Recognizer: "nope"}); !errors.Is(err, ErrConfig) {
		t.Errorf("ModelFolders(unknown) = %v, want ErrConfig", err)
	}
}
