package portal

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/portal/form"
	"github.com/madoguchi/madoguchi/staff"
)

// Upload limits: a master list (CMS, 8 MiB like the CLI's) with its
// signer's root certificate, or one certificate.
const (
	maxCert             = 64 << 10
	maxMasterList       = 8 << 20
	maxCertUpload       = maxCert + 8<<10
	maxMasterListUpload = maxMasterList + maxCert + 8<<10
)

// TrustAnchors is the ICAO trust directory (cmd/madoguchi wires it over
// package document/trust, as the `madoguchi trust` commands use it).
type TrustAnchors interface {
	// Anchors lists the installed CSCA anchors.
	Anchors(ctx context.Context) ([]TrustAnchor, error)
	// ImportMasterList verifies a master list's CMS signature with a signer
	// chaining to root (DER) and stores its CSCAs; the error says why a
	// list is refused (ErrMasterList), nothing is stored then.
	ImportMasterList(ctx context.Context, list, root []byte, test, atSigningTime bool) (MasterListImport, error)
}

// TrustAnchor is one installed CSCA.
type TrustAnchor struct {
	ID, Country, Subject string
	NotAfter             time.Time
	Test                 bool
}

// MasterListImport is what an import did.
type MasterListImport struct {
	Signer                  string
	Anchors, Added, Skipped int
}

// ErrMasterList: the master list or its root was refused.
var ErrMasterList = errors.New("portal: master list refused")

// trustForm is the trust page's forms' state.
type trustForm struct {
	Country string
	Errors  form.Errors
	// Imported is the last import's result, shown once.
	Imported *MasterListImport
}

// adminTrust lists the trust anchors with the forms to import a master
// list (one operator admin, re-authenticated: the list's signature and its
// chain to the given root are the control) and to file a single CSCA
// import (dual control: trust.csca).
func adminTrust(rq *Request) error { return renderTrust(rq, http.StatusOK, trustForm{}) }

func renderTrust(rq *Request, status int, f trustForm) error {
	tr := rq.s.cfg.Admin.Trust
	if tr == nil {
		return errNoService
	}
	list, err := tr.Anchors(rq.Ctx())
	if err != nil {
		return err
	}
	return rq.Render(status, "admin_trust", "admin.trust.title", map[string]any{
		"Anchors": list, "Form": f, "Admin": rq.Principal.Has(OperatorAdmin)})
}

// derOrPEM returns a certificate's DER from DER or PEM bytes.
func derOrPEM(b []byte) []byte {
	if blk, _ := pem.Decode(b); blk != nil && blk.Type == "CERTIFICATE" {
		return blk.Bytes
	}
	return b
}

// adminTrustMasterList imports a master list.
func adminTrustMasterList(rq *Request) error {
	tr := rq.s.cfg.Admin.Trust
	if tr == nil {
		return errNoService
	}
	if err := rq.RequireRecentAuth(Prefix + "/admin/trust"); err != nil {
		return err
	}
	up, err := rq.Upload(map[string]int64{"masterlist": maxMasterList, "root": maxCert})
	if err != nil {
		return err
	}
	f := trustForm{Errors: form.Errors{}}
	if up.Files["masterlist"] == nil {
		f.Errors.Add("masterlist", "form.required")
	}
	if up.Files["root"] == nil {
		f.Errors.Add("root", "form.required")
	}
	if f.Errors.Any() {
		return renderTrust(rq, http.StatusUnprocessableEntity, f)
	}
	test, atSigning := up.Value("test") == "on", up.Value("at_signing_time") == "on"
	res, err := tr.ImportMasterList(rq.Ctx(), up.Files["masterlist"], derOrPEM(up.Files["root"]), test, atSigning)
	outcome := audit.OutcomeOK
	if err != nil {
		outcome = audit.OutcomeDenied
	}
	details := map[string]string{"test": boolText(test), "at_signing_time": boolText(atSigning)}
	if err == nil {
		details["anchors"], details["added"] = itoa(res.Anchors), itoa(res.Added)
	}
	if aerr := rq.Audit("trust.masterlist.import", "", "trust/icao", outcome, details); aerr != nil {
		return aerr
	}
	if errors.Is(err, ErrMasterList) {
		f.Errors.Add("masterlist", "form.masterlist_refused")
		return renderTrust(rq, http.StatusUnprocessableEntity, f)
	}
	if err != nil {
		return err
	}
	f.Imported = &res
	return renderTrust(rq, http.StatusOK, f)
}

// cscaPayload is the trust.csca approval's payload (cmd/madoguchi
// trust_approval.go runs it).
type cscaPayload struct {
	Certificate []byte `json:"certificate"`
	Country     string `json:"country"`
	Test        bool   `json:"test"`
}

// adminTrustCSCA files a single CSCA import; its checks (CA, key usage,
// validity, country, self-signature) run when it is filed and again when a
// second operator admin approves it.
func adminTrustCSCA(rq *Request) error {
	sa := rq.s.cfg.Admin.Staff
	if sa == nil || rq.s.cfg.Admin.Trust == nil {
		return errNoService
	}
	if err := rq.RequireRecentAuth(Prefix + "/admin/trust"); err != nil {
		return err
	}
	up, err := rq.Upload(map[string]int64{"csca": maxCert})
	if err != nil {
		return err
	}
	f := trustForm{Errors: form.Errors{}, Country: up.Value("country")}
	country := form.Country(f.Errors, "country", f.Country)
	if up.Files["csca"] == nil {
		f.Errors.Add("csca", "form.required")
	}
	if f.Errors.Any() {
		return renderTrust(rq, http.StatusUnprocessableEntity, f)
	}
	payload, err := json.Marshal(cscaPayload{Certificate: derOrPEM(up.Files["csca"]), Country: country, Test: up.Value("test") == "on"})
	if err != nil {
		return err
	}
	ap, err := sa.Request(rq.Ctx(), rq.Actor(), staff.KindTrustCSCA, payload)
	if errors.Is(err, staff.ErrInvalidInput) {
		f.Errors.Add("csca", "form.csca_refused")
		return renderTrust(rq, http.StatusUnprocessableEntity, f)
	}
	if err != nil {
		return err
	}
	rq.Flash("flash.approval_filed")
	return rq.Redirect(Prefix + "/admin/approvals/" + ap.ID)
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
