package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/face"
)

// calibrationIn writes a calibration file for model into dir (created if
// missing) and returns its path.
func calibrationIn(t *testing.T, dir, model string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "face-calibration.json")
	writeCalibration(t, p, model)
	return p
}

// TestServeFaceRecognizerFlag: serve refuses, before opening its data, a
// recogniser it does not know (flag or environment), one the operator
// named whose models are not installed when nothing installs them, and a
// calibration made for another model than the one it would run.
func TestServeFaceRecognizerFlag(t *testing.T) {
	resnet, err := face.ModelID(face.LoadOptions{Recognizer: "resnet128"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		env  string
		cal  string // model of a calibration file in the data folder
		want string // in the error
		is   error
	}{
		{"unknown flag", []string{"--face-recognizer", "arcface-r100"}, "", "", "face-recognizer", nil},
		{"unknown env", nil, "facenet", "", "face-recognizer", nil},
		{"not installed", []string{"--face-recognizer", "resnet128", "--models-install", "off", "--models", "/nonexistent/models"}, "", "", "not installed", nil},
		{"calibration of another model", nil, "", resnet, "face-calibration.json", face.ErrModelMismatch},
		{"calibration of another model, env", nil, "mfn512", resnet, "face-calibration.json", face.ErrModelMismatch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, _, _ := testEnv()
			e.getenv = func(k string) string {
				if k == "MADOGUCHI_FACE_RECOGNIZER" {
					return tt.env
				}
				return ""
			}
			dir := filepath.Join(t.TempDir(), "data")
			if tt.cal != "" {
				calibrationIn(t, dir, tt.cal)
			}
			err := runServe(context.Background(), e, append([]string{"--data", dir}, tt.args...))
			if err == nil || !strings.Contains(err.Error(), tt.want) || tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("serve %v (env %q) = %v, want an error naming %q", tt.args, tt.env, err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "keys")); !os.IsNotExist(err) {
				t.Errorf("serve %v created keys before refusing", tt.args)
			}
		})
	}
}

// TestCheckRecognizerInstalled: with installation off, the named
// recogniser's own packages must verify (resnet128 does not need the
// faceplugin package; mfn512 does), and the server's engine then runs the
// named recogniser, whose model matches its calibration.
func TestCheckRecognizerInstalled(t *testing.T) {
	real := e2eModels(t)
	partial := t.TempDir()
	for _, sub := range []string{"face-api", "human", "manifest.json"} {
		if err := os.Symlink(filepath.Join(real, sub), filepath.Join(partial, sub)); err != nil {
			t.Fatal(err)
		}
	}
	data := t.TempDir()
	resnet, _ := face.ModelID(face.LoadOptions{Recognizer: "resnet128"})
	cal := calibrationIn(t, data, resnet)
	id, err := checkRecognizer("resnet128", true, true, partial, cal)
	if err != nil || id != resnet {
		t.Fatalf("checkRecognizer(resnet128, face-api and human installed) = %q, %v, want %q", id, err, resnet)
	}
	if _, err := checkRecognizer("mfn512", true, true, partial, filepath.Join(data, "none.json")); err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("checkRecognizer(mfn512, no faceplugin) = %v, want not installed", err)
	}
	// Not named by the operator: the default is installed in the
	// background as before, so a missing package is not a start error.
	if _, err := checkRecognizer("mfn512", false, true, partial, filepath.Join(data, "none.json")); err != nil {
		t.Errorf("checkRecognizer(default, not named) = %v, want nil", err)
	}
	if _, err := checkRecognizer("mfn512", true, true, real, cal); !errors.Is(err, face.ErrModelMismatch) {
		t.Errorf("checkRecognizer(mfn512, resnet128 calibration) = %v, want ErrModelMismatch", err)
	}
	pkgs, err := recognizerPackages("resnet128")
	if err != nil {
		t.Fatal(err)
	}
	ms := newModelSet(partial)
	ms.pkgs = pkgs
	ms.ensure(context.Background(), slog.New(slog.DiscardHandler), false)
	if !ms.ready() {
		t.Fatal("modelSet(resnet128 packages) not ready over face-api and human")
	}
	lf := &lazyFace{models: ms, dir: partial, calibration: cal, recognizer: "resnet128"}
	if got := lf.Model(); got != resnet {
		t.Errorf("lazyFace(resnet128).Model() = %q, want %q", got, resnet)
	}
	if fmr, ok := lf.CalibrationFMR(); !ok || fmr != 1e-4 { // writeCalibration's target FMR
		t.Errorf("lazyFace(resnet128).CalibrationFMR() = %v, %v, want the calibration's", fmr, ok)
	}
}
