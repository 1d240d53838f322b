package main

// madoguchi trust: ICAO CSCA trust anchors.
//
//	trust import --masterlist FILE --signer-root CERT [--at-signing-time] [--test] [--data DIR]
//	trust import --csca FILE --country CC --as ADMIN [--test]   (dual control, trust_approval.go)
//	trust policy [--allow-sha1 STATES|none --as ADMIN]          (dual control)
//	trust review APPROVAL_ID
//	trust list [--data DIR]
//	trust check [--data DIR]
//	trust crl [--data DIR] FILE...
//
// import verifies the master list's CMS signature with a signer that chains
// to the given root (DER or PEM) before storing any anchor; anchors go to
// <data>/trust/icao/production (or test/ with --test). check is what the
// server runs at startup: it fails on an empty store or any test anchor.

import (
	"context"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/document/trust"
)

func runTrust(ctx context.Context, e *env, args []string) error {
	const synopsis = "trust import|list|check|crl|policy|review [flags]"
	if len(args) == 0 {
		return usageError{"usage: madoguchi " + synopsis}
	}
	switch args[0] {
	case "import":
		for _, a := range args[1:] {
			if a == "--csca" || a == "-csca" || strings.HasPrefix(a, "--csca=") || strings.HasPrefix(a, "-csca=") {
				return runTrustImportCSCA(ctx, e, args[1:])
			}
		}
		return runTrustImport(e, args[1:], time.Now())
	case "policy":
		return runTrustPolicy(ctx, e, args[1:])
	case "review":
		return runTrustReview(ctx, e, args[1:])
	case "list":
		return runTrustList(e, args[1:], false)
	case "check":
		return runTrustList(e, args[1:], true)
	case "crl":
		return runTrustCRL(e, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintln(e.stderr, "usage: madoguchi "+synopsis)
		return nil
	}
	return usageError{fmt.Sprintf("unknown trust subcommand %q (want import, list, check, crl, policy or review)", args[0])}
}

func runTrustImport(e *env, args []string, now time.Time) error {
	fs := newFlagSet(e, "trust import", "trust import --masterlist FILE --signer-root CERT [--test] [--data DIR]")
	var data string
	envString(fs, e, &data, "data", "MADOGUCHI_DATA", defaultDataDir, "data directory")
	ml := fs.String("masterlist", "", "ICAO CSCA master list `file` (CMS SignedData)")
	root := fs.String("signer-root", "", "`certificate` (DER or PEM) the master list signer must chain to, e.g. DE_ROOT_CA_CSCA07.cer")
	test := fs.Bool("test", false, "mark the anchors as test anchors (refused by a production server)")
	atSigning := fs.Bool("at-signing-time", false, "check the signer and root at the list's signing time instead of now: only for a list whose signer certificate has expired since it was signed")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ml == "" || *root == "" || fs.NArg() != 0 {
		return usageError{"--masterlist and --signer-root are required: a master list is only as trustworthy as its signer"}
	}
	rootDER, err := readLimited(*root, 64<<10)
	if err != nil {
		return err
	}
	if b, _ := pem.Decode(rootDER); b != nil && b.Type == "CERTIFICATE" {
		rootDER = b.Bytes
	}
	der, err := readLimited(*ml, trust.MaxMasterList)
	if err != nil {
		return err
	}
	list, err := trust.VerifyMasterList(der, [][]byte{rootDER}, trust.VerifyOptions{Now: now, Policy: trust.DefaultPolicy(), AtSigningTime: *atSigning})
	if err != nil {
		return err
	}
	var anchors []*trust.Anchor
	for _, c := range list.Certificates {
		a, err := trust.NewAnchor(c.Raw, *test)
		if err != nil {
			return err
		}
		anchors = append(anchors, a)
	}
	unique := trust.NewStore(anchors...).Anchors()
	pr, err := newProgress(e, "trust import", int64(len(unique)), "anchors")
	if err != nil {
		return err
	}
	added := 0
	for chunk := range slices.Chunk(unique, 64) {
		n, err := trust.Save(trust.ICAODir(data), chunk)
		added += n
		if err != nil {
			return err
		}
		pr.Add(int64(len(chunk)))
	}
	pr.Done()
	for _, s := range list.Skipped {
		fmt.Fprintf(e.stderr, "skipped %s\n", s)
	}
	fmt.Fprintf(e.stdout, "verified master list signed by %s\n", list.Signer.Subject)
	if *atSigning {
		fmt.Fprintf(e.stdout, "verified at its signing time %s (signer certificate valid %s to %s), as asked by --at-signing-time\n",
			list.CheckedAt.UTC().Format(time.RFC3339), list.Signer.NotBefore.UTC().Format(time.DateOnly), list.Signer.NotAfter.UTC().Format(time.DateOnly))
	}
	fmt.Fprintf(e.stdout, "imported %d anchors (%d new, %d skipped)\n", len(unique), added, len(list.Skipped))
	return nil
}

func runTrustList(e *env, args []string, check bool) error {
	name := "trust list"
	if check {
		name = "trust check"
	}
	fs := newFlagSet(e, name, name+" [--data DIR]")
	var data string
	envString(fs, e, &data, "data", "MADOGUCHI_DATA", defaultDataDir, "data directory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"unexpected arguments"}
	}
	st, err := trust.Load(trust.ICAODir(data))
	if err != nil {
		return err
	}
	if check {
		if err := st.CheckProduction(); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "ok: %d production anchors\n", st.Len())
		fmt.Fprintf(e.stdout, "policy: %s\n", st.Policy())
		return nil
	}
	for _, a := range st.Anchors() {
		fmt.Fprintln(e.stdout, a.String())
	}
	fmt.Fprintf(e.stdout, "policy: %s\n", st.Policy())
	return nil
}

// runTrustCRL imports CSCA CRLs (DER or PEM); each must be signed by an
// anchor already in the store.
func runTrustCRL(e *env, args []string) error {
	fs := newFlagSet(e, "trust crl", "trust crl [--data DIR] FILE...")
	var data string
	envString(fs, e, &data, "data", "MADOGUCHI_DATA", defaultDataDir, "data directory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{"no CRL files given"}
	}
	dir := trust.ICAODir(data)
	st, err := trust.Load(dir)
	if err != nil {
		return err
	}
	var crls []*trust.CRL
	for _, p := range fs.Args() {
		der, err := readLimited(p, trust.MaxCRL)
		if err != nil {
			return err
		}
		if b, _ := pem.Decode(der); b != nil && b.Type == "X509 CRL" {
			der = b.Bytes
		}
		c, err := trust.ParseCRL(der)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if _, err := st.WithCRLs([]*trust.CRL{c}, trust.DefaultPolicy()); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		crls = append(crls, c)
		fmt.Fprintf(e.stdout, "%s\tnext update %s\t%d revoked\n", c.List.Issuer, c.List.NextUpdate.UTC().Format(time.DateOnly), len(c.List.RevokedCertificateEntries))
	}
	n, err := trust.SaveCRLs(dir, crls)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "imported %d CRLs (%d new)\n", len(crls), n)
	return nil
}
