package ekyc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/blob"
	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/chip"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Chip upload limits.
const (
	MaxChipFiles     = 16
	MaxChipFileBytes = 256 << 10
	MaxChipBytes     = 2 << 20
)

// ChipResult is what the service keeps of a verified chip read, sealed under
// the session's subject. It carries personal data.
type ChipResult struct {
	Kind           document.Kind         `json:"kind"`
	Verified       bool                  `json:"verified"`
	Failed         []string              `json:"failed_checks,omitempty"`
	Issuer         string                `json:"issuer,omitempty"`
	Country        string                `json:"country,omitempty"`
	DocumentNumber string                `json:"document_number,omitempty"` // never for a My Number card
	Expiry         string                `json:"expiry,omitempty"`
	Claims         map[string]any        `json:"claims,omitempty"` // signed attributes only
	Unsigned       []string              `json:"unsigned_attributes,omitempty"`
	Checks         []document.Check      `json:"checks"`
	Digests        map[string]string     `json:"digests_sha256"`
	IDA            *document.IDAEvidence `json:"ida,omitempty"`
	PhotoFormat    string                `json:"photo_format,omitempty"`
	ReceivedAt     time.Time             `json:"received_at"`
	// DeviceKey is the registered device key that signed the read, if any.
	DeviceKey    string `json:"device_key,omitempty"`
	DeviceSigned bool   `json:"device_signed"`
}

// ChipSummary is the non-personal answer to a chip upload.
type ChipSummary struct {
	Kind     document.Kind
	Verified bool
	Failed   []string // names of failed mandatory checks
}

func chipAAD(session, part string) []byte { return vault.AAD("ekyc.chip", session, part) }

// SubmitChip takes raw chip files for method ヘ from a registered device
// without a device signature; it is SubmitChipRead with Device nil.
func (s *Service) SubmitChip(ctx context.Context, a Actor, tenant, id string, kind document.Kind, files map[string][]byte) (*ChipSummary, error) {
	return s.SubmitChipRead(ctx, a, tenant, id, ChipRead{Kind: string(kind), Files: files})
}

// SubmitChipRead takes raw chip files for method ヘ from a registered device
// (an API client of the session's tenant with the device scope), checks the
// device's signature over the read (devicekey.go; required or not by the
// tenant's policy), verifies the files against the trust anchors with the
// session nonce as challenge, and seals the files, the chip photo and the
// result under the session's subject, with the chip-reuse digests of a
// verified read (chipreuse.go). A chip that fails verification is kept (as
// evidence of the attempt) and makes the decision reject. Only one chip
// read per session. Files holding the My Number, names outside the kind and
// refused device signatures are refused before anything is stored.
func (s *Service) SubmitChipRead(ctx context.Context, a Actor, tenant, id string, r ChipRead) (*ChipSummary, error) {
	kind, files := document.Kind(r.Kind), r.Files
	if !kind.Valid() {
		return nil, fmt.Errorf("%w: unknown document kind", ErrInvalidInput)
	}
	if len(files) == 0 || len(files) > MaxChipFiles {
		return nil, fmt.Errorf("%w: 1-%d chip files", ErrTooLarge, MaxChipFiles)
	}
	// The files holding the 個人番号 are refused under any spelling and any
	// claimed kind before anything is stored (番号利用法: the number is never
	// collected here); document/chip owns the file names.
	for name := range files {
		if chip.HoldsMyNumber(name) {
			return nil, ErrMyNumber
		}
	}
	total := 0
	for name, b := range files {
		if name == "" || len(name) > 32 || !printable(name) || len(b) == 0 || len(b) > MaxChipFileBytes {
			return nil, fmt.Errorf("%w: each chip file needs a short name and 1-%d bytes", ErrTooLarge, MaxChipFileBytes)
		}
		total += len(b)
	}
	if total > MaxChipBytes {
		return nil, fmt.Errorf("%w: chip files total over %d bytes", ErrTooLarge, MaxChipBytes)
	}
	// From here on the files are keyed by their canonical names: what is
	// verified, sealed and recorded is what the chip package names.
	files, err := normalizeChipFiles(kind, files)
	if err != nil {
		return nil, err
	}
	ss, err := s.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if !ss.Method.NeedsChip {
		return nil, fmt.Errorf("%w: this session's method takes no chip data", ErrState)
	}
	if expired, err := s.expireIfDue(ctx, ss); err != nil || expired {
		return nil, errOr(err, ErrExpired)
	}
	if ss.State != StateCreated && ss.State != StateCapturing {
		return nil, fmt.Errorf("%w: chip data is accepted only before submission", ErrState)
	}
	var have int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM ekyc_chips WHERE session_id = ?`, ss.ID).Scan(&have); err != nil {
		return nil, err
	}
	if have > 0 {
		return nil, fmt.Errorf("%w: chip data was already received for this session", ErrAlreadyReceived)
	}
	p, _, err := loadPolicy(ctx, s.db, ss.TenantID)
	if err != nil {
		return nil, err
	}
	var deviceKey string
	switch {
	case r.Device != nil:
		if deviceKey, err = s.verifyDevice(ctx, a, ss, r.Device, chip.BundleDigest(files)); err != nil {
			if errors.Is(err, ErrDeviceSignature) {
				s.denyChip(ctx, a, ss, "device_signature")
			}
			return nil, err
		}
	case p.DeviceSignature == DeviceSignatureRefuse:
		s.denyChip(ctx, a, ss, "device_unsigned")
		return nil, fmt.Errorf("%w: this tenant accepts only chip reads signed by a registered device", ErrDeviceSignature)
	}

	now := s.now()
	res := ChipResult{Kind: kind, ReceivedAt: now, Digests: map[string]string{}, DeviceKey: deviceKey, DeviceSigned: deviceKey != ""}
	ev, verr := s.cfg.Chips.Verify(ctx, kind, files, ss.nonce)
	if verr != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if verr == nil && ev != nil {
		res.fill(ev, ss.ID, now)
	} else {
		// The refusal's check name and reason carry no personal data.
		name, detail := "chip.refused", "the verifier refused the chip files"
		var re *document.RefusalError
		if errors.As(verr, &re) {
			name, detail = "chip.refused."+re.Check, re.Reason
		}
		res.Failed = []string{name}
		res.Checks = []document.Check{{Name: name, Result: document.Fail, Mandatory: true, Detail: detail}}
	}
	for name, b := range files {
		res.Digests[name] = hexSHA256(b)
	}
	subj := subjectOf(ss.TenantID, ss.subject)
	refs := map[string]string{}
	var attach []blob.Ref
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		r, err := s.cfg.Vault.SealBlob(ctx, subj, chipAAD(ss.ID, "file/"+name), files[name])
		if err != nil {
			return nil, err
		}
		refs[name] = r.String()
		attach = append(attach, r)
	}
	photoRef := ""
	if ev != nil && ev.Photo != nil && len(ev.Photo.Data) > 0 && res.Verified {
		r, err := s.cfg.Vault.SealBlob(ctx, subj, chipAAD(ss.ID, "photo"), ev.Photo.Data)
		if err != nil {
			return nil, err
		}
		photoRef = r.String()
		attach = append(attach, r)
	}
	body, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	refsJSON, _ := json.Marshal(refs)
	var reuse [][]byte
	if res.Verified {
		reuse = s.chipDigests(kind, files)
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		sealed, err := s.cfg.Vault.Seal(ctx, tx, subj, chipAAD(ss.ID, "evidence"), body)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO ekyc_chips (session_id, tenant_id, kind, device_id, verified, evidence, files, photo_ref, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, ss.ID, ss.TenantID, string(kind), a.ID, boolInt(res.Verified), sealed,
			string(refsJSON), photoRef, store.Micros(now)); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("%w: chip data was already received for this session", ErrAlreadyReceived)
			}
			return err
		}
		for _, r := range attach {
			if err := s.cfg.Blobs.Attach(ctx, tx, r, ss.TenantID, ss.ID); err != nil {
				return err
			}
		}
		if err := storeChipDigests(ctx, tx, ss, reuse, store.Micros(now)); err != nil {
			return err
		}
		outcome := audit.OutcomeOK
		if !res.Verified {
			outcome = audit.OutcomeFailed
		}
		details := map[string]string{"kind": string(kind), "verified": fmt.Sprint(res.Verified), "files": fmt.Sprint(len(files)), "device_key": deviceKey}
		if n := res.notes(); n != "" {
			details["notes"] = n // policy exceptions and accepted deviations (e.g. policy.sha1)
		}
		return s.record(ctx, tx, a, ss.TenantID, "ekyc.chip.add", ss.ID, outcome, details)
	})
	if err != nil {
		return nil, err
	}
	return &ChipSummary{Kind: kind, Verified: res.Verified, Failed: res.Failed}, nil
}

// denyChip records a refused chip read (its own transaction).
func (s *Service) denyChip(ctx context.Context, a Actor, ss *Session, reason string) {
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.record(ctx, tx, a, ss.TenantID, "ekyc.chip.add", ss.ID, audit.OutcomeDenied, map[string]string{"reason": reason})
	})
	if err != nil {
		s.log.ErrorContext(ctx, "ekyc: audit of a refused chip read failed", "session", ss.ID, "err", err)
	}
}

// normalizeChipFiles keys a read by canonical file names (chip.Normalize):
// a name of another kind or of none, or two names for one file, is
// ErrInvalidInput with the chip package's reason (which names the file,
// never its content); nothing has been stored.
func normalizeChipFiles(kind document.Kind, files map[string][]byte) (map[string][]byte, error) {
	named, err := chip.Normalize(kind, files)
	if err == nil {
		return named, nil
	}
	reason := "the chip files do not fit the document kind"
	var re *document.RefusalError
	if errors.As(err, &re) && re.Reason != "" {
		reason = re.Reason
	}
	if errors.Is(err, document.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %s", ErrTooLarge, reason)
	}
	return nil, fmt.Errorf("%w: %s", ErrInvalidInput, reason)
}

// notes names the checks that passed without being mandatory: the
// verifier's notes of an operator policy exception or an accepted
// deviation of a real issuer (policy.sha1, sod.content_type).
func (r *ChipResult) notes() string {
	var n []string
	for _, c := range r.Checks {
		if !c.Mandatory && c.Result == document.Pass {
			n = append(n, c.Name)
		}
	}
	return strings.Join(n, ",")
}

func (r *ChipResult) fill(ev *document.Evidence, session string, at time.Time) {
	r.Verified = ev.Verified
	for _, c := range ev.Failed() {
		r.Failed = append(r.Failed, c.Name)
	}
	r.Issuer, r.Country, r.Checks = ev.Issuer, ev.IssuingCountry, ev.Checks
	if ev.Kind != document.KindMyNumber {
		r.DocumentNumber = ev.DocumentNumber.Reveal()
	}
	if !ev.Expiry.IsZero() {
		r.Expiry = ev.Expiry.Format(time.DateOnly)
	}
	r.Claims = ev.SignedClaims()
	for _, a := range ev.Attributes {
		if !a.Signed {
			r.Unsigned = append(r.Unsigned, a.Name)
		}
	}
	if ev.Photo != nil {
		r.PhotoFormat = ev.Photo.Format
	}
	if ev.Verified {
		if ida, err := ev.IDAEvidence("chk-ic-"+session, at); err == nil {
			r.IDA = &ida
		}
	}
}

// chip loads and opens the session's chip result and photo reference.
func (s *Service) chip(ctx context.Context, q querier, ss *Session) (*ChipResult, blob.Ref, error) {
	cr, ref, _, err := s.chipWithDevice(ctx, q, ss)
	return cr, ref, err
}

// chipWithDevice is chip with the id of the device that uploaded the read.
func (s *Service) chipWithDevice(ctx context.Context, q querier, ss *Session) (*ChipResult, blob.Ref, string, error) {
	var (
		sealed   []byte
		photoRef string
		device   string
	)
	err := q.QueryRow(ctx, `SELECT evidence, photo_ref, device_id FROM ekyc_chips WHERE session_id = ? AND tenant_id = ?`, ss.ID, ss.TenantID).Scan(&sealed, &photoRef, &device)
	if isNotFound(err) {
		return nil, blob.Ref{}, "", nil
	} else if err != nil {
		return nil, blob.Ref{}, "", err
	}
	pt, err := s.cfg.Vault.Open(ctx, q, subjectOf(ss.TenantID, ss.subject), chipAAD(ss.ID, "evidence"), sealed)
	if err != nil {
		return nil, blob.Ref{}, "", err
	}
	var cr ChipResult
	if err := json.Unmarshal(pt, &cr); err != nil {
		return nil, blob.Ref{}, "", err
	}
	var ref blob.Ref
	if photoRef != "" {
		if ref, err = blob.ParseRef(photoRef); err != nil {
			return nil, blob.Ref{}, "", err
		}
	}
	return &cr, ref, device, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// DecodeChipFiles decodes a JSON map of file name to standard base64.
func DecodeChipFiles(in map[string]string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(in))
	for k, v := range in {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("%w: chip file is not base64", ErrInvalidInput)
		}
		out[k] = b
	}
	return out, nil
}
