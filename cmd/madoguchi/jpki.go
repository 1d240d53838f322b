package main

// madoguchi jpki: JPKI (My Number card) signatures, method ワ.
//
//	jpki verify --challenge FILE --signature FILE [--cert FILE] [--crl FILE]... [--ocsp URL]
//	            [--form auto|raw|cms] [--auth] [--anchor FILE]... [--reveal]
//	jpki testpki DIR
//
// verify prints every check's result and, if all passed, the verified
// attributes (redacted unless --reveal) as JSON on stdout; it exits 1 when the
// verification fails. It trusts the pinned J-LIS roots unless --anchor names
// others (a warning says so). Without --crl or --ocsp it refuses to run:
// there is no "not revoked" default. Single use of a challenge is enforced
// only within this process; the server enforces it across requests.
//
// testpki writes a TEST hierarchy shaped like J-LIS's (roots, card
// certificates, a challenge, raw and CMS signatures, CRLs) for trying verify
// and for the scripts in testdata/script; its roots are refused in production.

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
)

func runJPKI(ctx context.Context, e *env, args []string) error {
	const synopsis = "jpki verify|testpki [flags]"
	if len(args) == 0 {
		return usageError{"usage: madoguchi " + synopsis}
	}
	switch args[0] {
	case "verify":
		return runJPKIVerify(ctx, e, args[1:])
	case "testpki":
		return runJPKITestPKI(e, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintln(e.stderr, "usage: madoguchi "+synopsis)
		return nil
	}
	return usageError{fmt.Sprintf("unknown jpki subcommand %q (want verify or testpki)", args[0])}
}

// jpkiFiles is a repeatable file flag.
type jpkiFiles []string

func (f *jpkiFiles) String() string     { return strings.Join(*f, ",") }
func (f *jpkiFiles) Set(v string) error { *f = append(*f, v); return nil }

// jpkiRead reads a file of at most limit bytes; PEM input yields its first
// block's bytes.
func jpkiRead(name string, limit int64) ([]byte, error) {
	b, err := readCapped(name, limit)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		return blk.Bytes, nil
	}
	return b, nil
}

type jpkiOutput struct {
	Verified   bool                      `json:"verified"`
	Usage      string                    `json:"usage"`
	Form       string                    `json:"form"`
	Error      string                    `json:"error,omitempty"`
	Checks     []jpki.Check              `json:"checks"`
	Claims     any                       `json:"claims,omitempty"`
	Exact      map[string]bool           `json:"exact,omitempty"`
	LinkKey    any                       `json:"link_key,omitempty"`
	Evidence   *jpki.ElectronicSignature `json:"evidence,omitempty"`
	Revocation *jpki.RevocationEvidence  `json:"revocation,omitempty"`
	Anchors    string                    `json:"anchors"`
}

func runJPKIVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "jpki verify", "jpki verify --challenge FILE --signature FILE [--cert FILE] (--crl FILE... | --ocsp URL) [flags]")
	challenge := fs.String("challenge", "", "the issued challenge `file` (DER, as the server issued it)")
	signature := fs.String("signature", "", "the signature `file`: raw RSA signature or CMS SignedData (DER or PEM)")
	cert := fs.String("cert", "", "the signer's certificate `file` (DER or PEM); optional for CMS that embeds it")
	var crls, anchors, intermediates jpkiFiles
	fs.Var(&crls, "crl", "a CRL `file` imported for revocation (repeatable)")
	fs.Var(&anchors, "anchor", "trust this root `file` instead of the pinned J-LIS roots (testing only; repeatable)")
	fs.Var(&intermediates, "intermediate", "an intermediate or link CA certificate `file` (repeatable)")
	ocsp := fs.String("ocsp", "", "OCSP responder `URL` for revocation")
	form := fs.String("form", "auto", "signature form: auto, raw or cms")
	auth := fs.Bool("auth", false, "verify a user-authentication (利用者証明用) signature instead of a signing one")
	reveal := fs.Bool("reveal", false, "print personal attributes in clear")
	namespace := fs.String("namespace", "https://madoguchi.invalid", "URI prefix of the evidence signature_type")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *challenge == "" || *signature == "" || fs.NArg() != 0 {
		return usageError{"--challenge and --signature are required"}
	}
	if (len(crls) == 0) == (*ocsp == "") {
		return usageError{"exactly one revocation source is required: --crl FILE... or --ocsp URL (the method is disabled without one)"}
	}
	usage := jpki.UsageSign
	if *auth {
		usage = jpki.UsageAuth
	}

	var trust *jpki.Anchors
	anchorDesc := "production (pinned J-LIS roots)"
	if len(anchors) == 0 {
		var err error
		if trust, err = jpki.ProductionAnchors(); err != nil {
			return err
		}
	} else {
		var roots []*x509.Certificate
		for _, a := range anchors {
			der, err := jpkiRead(a, jpki.MaxCertificateSize)
			if err != nil {
				return err
			}
			c, err := jpki.ParseCertificate(der)
			if err != nil {
				return fmt.Errorf("%s: %w", a, err)
			}
			roots = append(roots, c)
		}
		if usage == jpki.UsageSign {
			trust = jpki.NewAnchors(roots, nil)
		} else {
			trust = jpki.NewAnchors(nil, roots)
		}
		anchorDesc = "NON-PRODUCTION (--anchor)"
		fmt.Fprintln(e.stderr, "madoguchi jpki: warning: trusting --anchor roots instead of the pinned J-LIS roots; a production server refuses them")
	}

	var revocation jpki.RevocationChecker
	if *ocsp != "" {
		c, err := jpki.NewOCSPClient(*ocsp, nil)
		if err != nil {
			return err
		}
		revocation = c
	} else {
		store, err := jpki.NewCRLStore(trust.Roots(usage), nil)
		if err != nil {
			return err
		}
		for _, f := range crls {
			der, err := jpkiRead(f, jpki.MaxCRLSize)
			if err != nil {
				return err
			}
			// An older CRL than one given before is refused (ErrOlderCRL):
			// verifying against it could miss a revocation.
			res, err := store.Import(der)
			if err != nil {
				return fmt.Errorf("--crl %s: %w", f, err)
			}
			if res == jpki.CRLUnchanged {
				fmt.Fprintf(e.stderr, "madoguchi jpki: --crl %s: the same CRL as one given before (unchanged)\n", f)
			}
		}
		revocation = store
	}
	v, err := jpki.NewVerifier(jpki.Config{Anchors: trust, Revocation: revocation, Spender: jpki.NewMemorySpender(nil)})
	if err != nil {
		return err
	}

	ch, err := jpkiRead(*challenge, jpki.MaxChallengeSize)
	if err != nil {
		return err
	}
	sig := jpki.Signature{}
	if sig.Value, err = jpkiRead(*signature, jpki.MaxSignatureSize); err != nil {
		return err
	}
	if *cert != "" {
		if sig.Certificate, err = jpkiRead(*cert, jpki.MaxCertificateSize); err != nil {
			return err
		}
	}
	for _, f := range intermediates {
		der, err := jpkiRead(f, jpki.MaxCertificateSize)
		if err != nil {
			return err
		}
		sig.Intermediates = append(sig.Intermediates, der)
	}
	switch *form {
	case "auto":
		sig.Form = jpki.DetectForm(sig.Value)
	case "raw":
		sig.Form = jpki.FormRaw
	case "cms":
		sig.Form = jpki.FormCMS
	default:
		return usageError{fmt.Sprintf("--form %q: want auto, raw or cms", *form)}
	}

	verify := v.VerifySignature
	if usage == jpki.UsageAuth {
		verify = v.VerifyAuthentication
	}
	res, verr := verify(ctx, ch, sig)
	out := jpkiOutput{Usage: usage.String(), Form: sig.Form.String(), Checks: res.Checks, Anchors: anchorDesc}
	if verr != nil {
		out.Error = verr.Error()
	} else {
		out.Verified = true
		out.Revocation = res.Revocation
		ev, err := res.Evidence(*namespace)
		if err != nil {
			return err
		}
		out.Evidence = &ev
		if *reveal {
			out.LinkKey = res.LinkKey().Reveal()
		} else {
			out.LinkKey = res.LinkKey()
		}
		if usage == jpki.UsageSign {
			claims, err := res.Claims()
			if err != nil {
				return err
			}
			if *reveal {
				out.Claims = claims.Reveal()
			} else {
				out.Claims = claims
			}
			out.Exact = map[string]bool{"name": claims.NameExact, "address": claims.AddressExact}
		}
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return err
	}
	if verr != nil {
		return exitError{1}
	}
	return nil
}

// runJPKITestPKI writes a TEST hierarchy and signed samples to a directory.
func runJPKITestPKI(e *env, args []string) error {
	fs := newFlagSet(e, "jpki testpki", "jpki testpki DIR")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"want one directory argument"}
	}
	dir := fs.Arg(0)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	p, err := jpkitest.New(jpkitest.Options{})
	if err != nil {
		return err
	}
	card, err := p.Issue(jpkitest.CardOptions{Usage: jpki.UsageSign})
	if err != nil {
		return err
	}
	authCard, err := p.Issue(jpkitest.CardOptions{Usage: jpki.UsageAuth})
	if err != nil {
		return err
	}
	expired, err := p.Issue(jpkitest.CardOptions{Usage: jpki.UsageSign, NotBefore: p.Now.AddDate(-5, 0, 0), NotAfter: p.Now.Add(-time.Hour)})
	if err != nil {
		return err
	}
	c, err := jpki.NewChallenge(rand.Reader, "testpki-session", "testpki.invalid", "account-opening", p.Now, 10*time.Minute)
	if err != nil {
		return err
	}
	ch, err := c.Marshal()
	if err != nil {
		return err
	}
	files := map[string]func() ([]byte, error){
		"sign_root.pem":    func() ([]byte, error) { return jpkiPEMCert(p.Sign.Cert), nil },
		"auth_root.pem":    func() ([]byte, error) { return jpkiPEMCert(p.Auth.Cert), nil },
		"card.pem":         func() ([]byte, error) { return jpkiPEMCert(card.Cert), nil },
		"auth_card.pem":    func() ([]byte, error) { return jpkiPEMCert(authCard.Cert), nil },
		"expired_card.pem": func() ([]byte, error) { return jpkiPEMCert(expired.Cert), nil },
		"challenge.der":    func() ([]byte, error) { return ch, nil },
		"raw.sig":          func() ([]byte, error) { return card.SignRaw(ch) },
		"auth.sig":         func() ([]byte, error) { return authCard.SignRaw(ch) },
		"expired.sig":      func() ([]byte, error) { return expired.SignRaw(ch) },
		"cms.p7s":          func() ([]byte, error) { return card.SignCMS(ch, jpkitest.CMSOptions{EmbedCert: true}) },
		"detached.p7s":     func() ([]byte, error) { return card.SignCMS(ch, jpkitest.CMSOptions{Detached: true}) },
		"sign.crl":         func() ([]byte, error) { return p.CRL(p.Sign, jpkitest.CRLOptions{}) },
		"auth.crl":         func() ([]byte, error) { return p.CRL(p.Auth, jpkitest.CRLOptions{}) },
		"revoked.crl": func() ([]byte, error) {
			return p.CRL(p.Sign, jpkitest.CRLOptions{Revoked: []*x509.Certificate{card.Cert}})
		},
		"stale.crl": func() ([]byte, error) {
			return p.CRL(p.Sign, jpkitest.CRLOptions{ThisUpdate: p.Now.Add(-72 * time.Hour), NextUpdate: p.Now.Add(-time.Hour)})
		},
	}
	for name, gen := range files {
		b, err := gen()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stdout, "wrote a TEST JPKI hierarchy to %s (challenge valid until %s)\n", dir, c.ExpiresAt.Format(time.RFC3339))
	return nil
}

func jpkiPEMCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
