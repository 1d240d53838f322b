package chip

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/icao"
	"github.com/madoguchi/madoguchi/document/jpdl"
	"github.com/madoguchi/madoguchi/document/mynumber"
	"github.com/madoguchi/madoguchi/document/residence"
	"github.com/madoguchi/madoguchi/document/trust"
)

// Size limits on a chip read.
const (
	MaxFile     = 256 << 10         // one file of a Japanese card
	MaxICAOFile = icao.MaxDataGroup // one eMRTD file (DG2 holds the portrait)
	MaxBundle   = 4 << 20           // all files of one read
	MaxFiles    = 20                // files in one read (sod, com, 16 DGs, aa)
)

// ChallengeSize is the length of the ICAO Active Authentication challenge
// taken from the caller's challenge.
const ChallengeSize = icao.ChallengeSize

// ErrNoAnchors reports a kind this server has no trust anchors for. It
// wraps document.ErrNotAccepted: such chips are not accepted here.
var ErrNoAnchors = fmt.Errorf("chip: no trust anchors configured: %w", document.ErrNotAccepted)

// Config holds the trust anchors of each kind. A kind left empty is
// disabled.
type Config struct {
	ICAO      *trust.Store        // CSCA anchors, their CRLs and the operator policy (SHA-1 states)
	JPDL      []*x509.Certificate // 公安委員会 signer certificates
	MyNumber  []mynumber.Anchor   // J-LIS keys
	Residence []*x509.Certificate // residence card issuer roots
	// Now is the verification clock (default time.Now).
	Now func() time.Time
}

// productionChecker is what every per-kind verifier offers.
type productionChecker interface{ CheckProduction() error }

// Verifier verifies chip reads of the configured kinds.
type Verifier struct {
	now       func() time.Time
	icao      *icao.Verifier
	jpdl      *jpdl.Verifier
	mynumber  *mynumber.Verifier
	residence *residence.Verifier
}

// New builds a Verifier from c. Anchors that are present must be usable
// (an RSA key below policy, say, is an error); absent kinds are disabled.
func New(c Config) (*Verifier, error) {
	v := &Verifier{now: c.Now}
	if v.now == nil {
		v.now = time.Now
	}
	var err error
	if c.ICAO != nil && c.ICAO.Len() > 0 {
		if v.icao, err = icao.NewVerifier(icao.Config{Anchors: c.ICAO, SHA1States: c.ICAO.SHA1States()}); err != nil {
			return nil, fmt.Errorf("icao: %w", err)
		}
	}
	if len(c.JPDL) > 0 {
		if v.jpdl, err = jpdl.NewVerifier(c.JPDL); err != nil {
			return nil, fmt.Errorf("jpdl: %w", err)
		}
	}
	if len(c.MyNumber) > 0 {
		if v.mynumber, err = mynumber.NewVerifier(c.MyNumber); err != nil {
			return nil, fmt.Errorf("mynumber: %w", err)
		}
	}
	if len(c.Residence) > 0 {
		if v.residence, err = residence.NewVerifier(c.Residence); err != nil {
			return nil, fmt.Errorf("residence: %w", err)
		}
	}
	return v, nil
}

func (v *Verifier) checkers() map[document.Kind]productionChecker {
	m := map[document.Kind]productionChecker{}
	if v.icao != nil {
		m[document.KindICAO] = v.icao
	}
	if v.jpdl != nil {
		m[document.KindJPDL] = v.jpdl
	}
	if v.mynumber != nil {
		m[document.KindMyNumber] = v.mynumber
	}
	if v.residence != nil {
		m[document.KindResidence] = v.residence
	}
	return m
}

// Enabled lists the kinds with anchors, in document.Kinds order.
func (v *Verifier) Enabled() []document.Kind {
	m := v.checkers()
	var out []document.Kind
	for _, k := range document.Kinds() {
		if m[k] != nil {
			out = append(out, k)
		}
	}
	return out
}

// CheckProduction refuses a configuration holding any test anchor (of any
// kind): the error wraps document.ErrTestAnchor and names every such kind.
// A production server calls it at start-up.
func (v *Verifier) CheckProduction() error {
	var errs []error
	m := v.checkers()
	for _, k := range document.Kinds() {
		if c := m[k]; c != nil {
			if err := c.CheckProduction(); err != nil {
				errs = append(errs, fmt.Errorf("%s trust anchors: %w", k, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Verify verifies one chip read of kind: files maps the client's file
// names (see the package comment) to their bytes, and challenge is the one
// the server issued for this read (for ICAO Active Authentication, its
// first ChallengeSize bytes), nil if none. It returns the evidence and nil
// only when every mandatory check passed; otherwise an error, usually a
// *document.RefusalError with a reviewer-readable reason, and, when the
// files parsed, the evidence with the failed checks. Bytes of the files
// holding the My Number are zeroised. Verify implements
// ekyc.ChipVerifier.
func (v *Verifier) Verify(ctx context.Context, kind document.Kind, files map[string][]byte, challenge []byte) (*document.Evidence, error) {
	return v.VerifyAt(ctx, kind, files, challenge, v.now())
}

// VerifyAt is Verify at time now instead of the configured clock (for
// tools that verify a read at a stated time).
func (v *Verifier) VerifyAt(ctx context.Context, kind document.Kind, files map[string][]byte, challenge []byte, now time.Time) (*document.Evidence, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	named, err := Normalize(kind, files)
	if err != nil {
		return nil, err
	}
	if v.checkers()[kind] == nil {
		return nil, document.Refuse(kind, "trust", ErrNoAnchors, "this server has no trust anchors for %s chips", kind)
	}
	switch kind {
	case document.KindICAO:
		var aa []byte
		if len(challenge) >= ChallengeSize {
			aa = challenge[:ChallengeSize]
		} else if _, ok := named["aa"]; ok {
			return nil, document.Refuse(kind, "aa", document.ErrChallenge, "an Active Authentication response needs a challenge of at least %d bytes", ChallengeSize)
		}
		return v.icao.VerifyNamed(named, aa, now)
	case document.KindJPDL:
		return v.jpdl.Verify(jpdl.Files{
			Common: named["mf_ef01"], Matters: named["df1_ef01"], Honseki: named["df1_ef02"], Gaiji: named["df1_ef03"],
			Changes: named["df1_ef04"], ChangesGaiji: named["df1_ef05"], HonsekiChanges: named["df1_ef06"],
			Signature: named["df1_ef07"], Photo: named["df2_ef01"],
		}, now)
	case document.KindMyNumber:
		f := mynumber.Files{
			MyNumber: named["textap_ef01"], Basic4: named["textap_ef02"], TextSignature: named["textap_ef03"], TextCert: named["textap_ef04"],
			Visual: named["visualap_ef02"], VisualCert: named["visualap_ef04"], MyNumberImage: named["visualap_ef05"],
		}
		for n := range myNumberFiles {
			delete(named, n)
		}
		return v.mynumber.Verify(&f, now) // zeroises the My Number buffers
	default: // document.KindResidence
		return v.residence.Verify(residence.Files{
			Common: named["mf_ef01"], Front: named["df1_ef01"], Face: named["df1_ef02"], Back: named["df2_ef01"],
			Permissions: [3][]byte{named["df2_ef02"], named["df2_ef03"], named["df2_ef04"]}, Signature: named["df3_ef01"],
		}, now)
	}
}

// Normalize checks a bundle for kind against the size limits and the file
// names of that kind, and returns it keyed by canonical name (the byte
// slices are shared, not copied). A file of another kind (a mixed bundle),
// a file of no kind, two names for one file, or a file over its limit is
// refused with a reason naming the file; nothing is parsed.
func Normalize(kind document.Kind, files map[string][]byte) (map[string][]byte, error) {
	if !kind.Valid() {
		return nil, document.Refuse("", "kind", document.ErrNotAccepted, "%s is not a document kind", displayName(string(kind)))
	}
	if len(files) == 0 {
		return nil, document.Refuse(kind, "files", document.ErrNotAccepted, "no chip files")
	}
	if len(files) > MaxFiles {
		return nil, document.Refuse(kind, "size", document.ErrTooLarge, "%d files, at most %d", len(files), MaxFiles)
	}
	limit := int64(MaxFile)
	if kind == document.KindICAO {
		limit = MaxICAOFile
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names) // the first offending file is reported, the same one every time
	var total int64
	out := make(map[string][]byte, len(files))
	for _, n := range names {
		b := files[n]
		canon, ok := FileName(kind, n)
		if !ok {
			if others := KindsOf(n); len(others) > 0 {
				return nil, document.Refuse(kind, "files", document.ErrNotAccepted, "%s is a %s file, not %s: mixed bundle", displayName(n), joinKinds(others), kind)
			}
			return nil, document.Refuse(kind, "files", document.ErrNotAccepted, "%s is not a %s chip file", displayName(n), kind)
		}
		if _, dup := out[canon]; dup {
			return nil, document.Refuse(kind, "files", document.ErrNotAccepted, "%s given twice", canon)
		}
		if int64(len(b)) > limit {
			return nil, document.Refuse(kind, "size", document.ErrTooLarge, "%s is %d bytes, over the %d-byte limit", canon, len(b), limit)
		}
		if total += int64(len(b)); total > MaxBundle {
			return nil, document.Refuse(kind, "size", document.ErrTooLarge, "the files total over %d bytes", MaxBundle)
		}
		out[canon] = b
	}
	return out, nil
}
