package main

// `madoguchi dev chip`: the test kit's first half. It mints the chip files
// of a test document — a driver's licence, a My Number card, a residence
// card or a passport — for a holder (name, birth date, photo), signed by
// the DEVELOPMENT issuers of one data directory, so that only the
// development server of that directory trusts them. The files go into
// --out named as a reader would name them (df1_ef01.bin, sod.bin, …), ready
// for `madoguchi document verify` or `madoguchi dev session --chip DIR`.
//
// The photo may be JPEG, PNG, PGM or JPEG 2000. Japanese chips carry JPEG
// 2000: other formats are scaled to fit the chip's size limit and encoded
// (package document/chip/devissuer); a passport's DG2 carries a JPEG.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/chip/devissuer"
	"github.com/madoguchi/madoguchi/internal/atomicfile"
)

const devChipSynopsis = "dev chip --kind jpdl|mynumber|residence|icao --photo FILE --name NAME --birthdate YYYY-MM-DD [--sex male|female] [--address TEXT] [--data DIR] --out DIR"

func devChip(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "dev chip", devChipSynopsis)
	var d dataFlags
	envString(fs, e, &d.data, "data", "MADOGUCHI_DATA", defaultDataDir, "development data directory whose issuers sign the chip")
	kind := fs.String("kind", "", "document `kind`: jpdl, mynumber, residence or icao")
	photo := fs.String("photo", "", "holder's face photo `file` (JPEG, PNG, PGM or JPEG 2000)")
	name := fs.String("name", "", "holder's name (Latin letters, SURNAME GIVEN, for icao)")
	birth := fs.String("birthdate", "", "holder's birth date, `YYYY-MM-DD`")
	sex := fs.String("sex", "", "holder's sex: male, female or empty")
	address := fs.String("address", "", "holder's address (Japanese cards; a test address if empty)")
	out := fs.String("out", "", "output `directory` for the chip files (created, 0700)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	k := document.Kind(*kind)
	switch {
	case !k.Valid():
		return usageError{fmt.Sprintf("--kind %q: want jpdl, mynumber, residence or icao", *kind)}
	case *photo == "" || *name == "" || *birth == "" || *out == "":
		return usageError{"usage: madoguchi " + devChipSynopsis}
	case fs.NArg() > 0:
		return usageError{"dev chip takes no arguments"}
	}
	bd, err := time.Parse(time.DateOnly, *birth)
	if err != nil {
		return usageError{fmt.Sprintf("--birthdate %q: want YYYY-MM-DD", *birth)}
	}
	if !isDevelopment(d.data) {
		return fmt.Errorf("%s is not a development data directory (no %s marker): test chips are minted only by a development server's issuers", d.data, devMarker)
	}
	img, err := readLimited(*photo, devissuer.MaxPhoto)
	if err != nil {
		return err
	}
	is, created, err := ensureDevIssuers(d)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(e.stderr, "madoguchi dev chip: created the development issuers of %s; restart its server so that it trusts them\n", d.data)
	}
	files, err := is.Mint(k, devissuer.Holder{Name: *name, Birth: bd, Sex: *sex, Address: *address, Photo: img}, time.Now())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	written := make([]string, 0, len(names))
	for _, n := range names {
		p := filepath.Join(*out, n+".bin")
		if err := atomicfile.Write(p, files[n], 0o600); err != nil {
			return err
		}
		written = append(written, p)
	}
	return json.NewEncoder(e.stdout).Encode(map[string]any{
		"kind": k, "files": written, "trusted_by": d.data,
		"note": "TEST chip: signed by development issuers; a production server refuses their anchors",
	})
}
