package main

// madoguchi document verify: verify chip files read by a client and print
// the evidence as JSON.
//
//	document verify --kind icao|jpdl|mynumber|residence [--challenge HEX]
//	    [--data DIR] [--trust DIR] [--allow-test-anchors] [--reveal] FILES...
//
// Personal data (names, numbers, the photo) is redacted unless --reveal.
// Exit status 0: verified; 1: refused (the evidence is still printed, the
// reason goes to stderr); 2: usage.
//
// ICAO files are named by what they hold, case-insensitive, any extension:
// sod (or ef.sod, 011d), com, dg1 … dg16, and aa: the chip's response to
// INTERNAL AUTHENTICATE with the --challenge the server issued. Anchors
// come from <data>/trust/icao (see "madoguchi trust import").

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/icao"
	"github.com/madoguchi/madoguchi/document/trust"
)

// documentOptions are the flags every kind may use.
type documentOptions struct {
	data      string    // data directory (ICAO anchors under trust/icao)
	trust     string    // trust directory for the Japanese kinds
	allowTest bool      // accept test anchors (development only)
	challenge []byte    // server-issued challenge (ICAO Active Authentication)
	now       time.Time // verification time
}

// kindVerifier verifies the files of one document kind.
type kindVerifier func(o documentOptions, paths []string) (*document.Evidence, error)

// documentKinds maps each kind to its verifier: one line per kind.
var documentKinds = map[document.Kind]kindVerifier{
	document.KindICAO: verifyICAOFiles,
	document.KindJPDL: func(o documentOptions, p []string) (*document.Evidence, error) {
		return jpVerify(document.KindJPDL, o.trust, o.allowTest, p, o.now)
	},
	document.KindMyNumber: func(o documentOptions, p []string) (*document.Evidence, error) {
		return jpVerify(document.KindMyNumber, o.trust, o.allowTest, p, o.now)
	},
	document.KindResidence: func(o documentOptions, p []string) (*document.Evidence, error) {
		return jpVerify(document.KindResidence, o.trust, o.allowTest, p, o.now)
	},
}

func runDocument(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(e.stderr, "usage: madoguchi document verify --kind KIND [flags] FILES...")
			return nil
		}
		return usageError{"usage: madoguchi document verify --kind KIND [flags] FILES..."}
	}
	return runDocumentVerify(e, args[1:], time.Now())
}

func runDocumentVerify(e *env, args []string, now time.Time) error {
	fs := newFlagSet(e, "document verify", "document verify --kind icao|jpdl|mynumber|residence [flags] FILES...")
	kind := fs.String("kind", "", "document `kind`: icao, jpdl, mynumber or residence")
	challenge := fs.String("challenge", "", "server-issued Active Authentication challenge (`hex`, 8 bytes)")
	o := documentOptions{now: now}
	envString(fs, e, &o.data, "data", "MADOGUCHI_DATA", defaultDataDir, "data directory (ICAO anchors under trust/icao)")
	fs.StringVar(&o.trust, "trust", "", "trust `directory` for the Japanese kinds (jpdl/, mynumber/, residence/)")
	fs.BoolVar(&o.allowTest, "allow-test-anchors", false, "accept test trust anchors (development only)")
	reveal := fs.Bool("reveal", false, "print personal data (names, numbers, photo) in clear")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	verify, ok := documentKinds[document.Kind(*kind)]
	if !ok {
		var names []string
		for k := range documentKinds {
			names = append(names, string(k))
		}
		slices.Sort(names)
		return usageError{fmt.Sprintf("--kind %q: want one of %s", *kind, strings.Join(names, ", "))}
	}
	if fs.NArg() == 0 {
		return usageError{"no chip files given"}
	}
	if *challenge != "" {
		c, err := hex.DecodeString(*challenge)
		if err != nil || len(c) != icao.ChallengeSize {
			return usageError{fmt.Sprintf("--challenge must be %d bytes in hex", icao.ChallengeSize)}
		}
		o.challenge = c
	}
	ev, verr := verify(o, fs.Args())
	if ev == nil {
		return verr
	}
	var out []byte
	var err error
	if *reveal {
		out, err = ev.RevealedJSON()
	} else {
		out, err = json.Marshal(ev)
	}
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	if _, err := e.stdout.Write(buf.Bytes()); err != nil {
		return err
	}
	if verr != nil {
		fmt.Fprintf(e.stderr, "madoguchi document verify: refused: %v\n", verr)
		return exitError{1}
	}
	if !ev.Verified {
		fmt.Fprintln(e.stderr, "madoguchi document verify: refused")
		return exitError{1}
	}
	return nil
}

// verifyICAOFiles reads eMRTD files and verifies them against the anchors
// under <data>/trust/icao.
func verifyICAOFiles(o documentOptions, paths []string) (*document.Evidence, error) {
	st, err := trust.LoadICAO(o.data, o.allowTest)
	if err != nil {
		return nil, err
	}
	v, err := icao.NewVerifier(icao.Config{Anchors: st, SHA1States: st.SHA1States()})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, p := range paths { // names first: nothing is read from a bad command line
		n, ok := icao.FileName(p)
		if !ok {
			return nil, usageError{fmt.Sprintf("%s: not an eMRTD file name (sod, com, dg1 … dg16, aa)", p)}
		}
		if seen[n] {
			return nil, usageError{n + " given twice"}
		}
		seen[n] = true
	}
	if seen["aa"] && o.challenge == nil {
		return nil, usageError{"an aa response needs the --challenge it answers"}
	}
	named := make(map[string][]byte, len(paths))
	for _, p := range paths {
		b, err := readLimited(p, icao.MaxDataGroup)
		if err != nil {
			return nil, err
		}
		named[p] = b
	}
	return v.VerifyNamed(named, o.challenge, o.now)
}
