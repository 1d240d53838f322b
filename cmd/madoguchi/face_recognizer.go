package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/face/models"
)

// recognizerPackages returns the pinned model packages the face engine
// reads with recogniser name (face.ModelFolders).
func recognizerPackages(name string) ([]models.Package, error) {
	folders, err := face.ModelFolders(face.LoadOptions{Recognizer: name})
	if err != nil {
		return nil, err
	}
	var out []models.Package
	for _, p := range models.Pinned() {
		if slices.Contains(folders, p.Dir) {
			out = append(out, p)
		}
	}
	return out, nil
}

// checkRecognizer is serve's start-up check of --face-recognizer (fail
// closed): the name must be a recogniser face.Load knows; if the operator
// named one and models are not installed at start (--models-install off),
// its models must be installed and verify now; and a calibration file, if
// there is one, must be for the model this recogniser runs (calibrations
// are bound to the model id: a mismatch would refer every face match, so
// the server refuses to start instead). It returns the model id.
func checkRecognizer(name string, explicit, installOff bool, modelsDir, calibration string) (string, error) {
	id, err := face.ModelID(face.LoadOptions{Recognizer: name})
	if err != nil {
		return "", usageError{fmt.Sprintf("--face-recognizer %q: want one of %v", name, face.Recognizers())}
	}
	if explicit && installOff {
		pkgs, err := recognizerPackages(name)
		if err != nil {
			return "", err
		}
		if err := models.Verify(modelsDir, pkgs); err != nil {
			return "", fmt.Errorf("--face-recognizer %s: its models are not installed in %s or do not verify (run 'madoguchi models install'): %w", name, modelsDir, err)
		}
	}
	fh, err := os.Open(calibration)
	if errors.Is(err, fs.ErrNotExist) {
		return id, nil
	} else if err != nil {
		return "", err
	}
	cal, err := face.ReadCalibration(fh)
	fh.Close()
	if err != nil {
		return "", fmt.Errorf("%s: %w", calibration, err)
	}
	if cal.Model != id {
		return "", fmt.Errorf("%s is for face model %q, but --face-recognizer %s runs %q: calibrate it (madoguchi face calibrate --recognizer %s) or remove it: %w",
			calibration, cal.Model, name, id, name, face.ErrModelMismatch)
	}
	return id, nil
}
