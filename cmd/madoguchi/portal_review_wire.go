package main

import (
	"github.com/madoguchi/madoguchi/portal"
	"github.com/madoguchi/madoguchi/portal/recordpdf"
)

// defaultPDFFont is where Debian's fonts-ipaexfont-gothic installs
// IPAexGothic (IPA Font License v1.0).
const defaultPDFFont = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"

// reviewWiring gives the portal the review workbench and the records: the
// eKYC service (when it runs), the audit log for record proofs, and the
// font for record PDFs. A missing font only disables the PDF download
// (logged once); the records, their JSON download and the workbench work.
func (a *app) reviewWiring(cfg *portal.Config, p portalFlags) {
	cfg.Proofs = a.audit
	if a.ekyc != nil {
		cfg.Reviews, cfg.Records = a.ekyc, a.ekyc
	}
	if p.pdfFont == "" {
		return
	}
	font, err := readCapped(p.pdfFont, recordpdf.MaxFontBytes)
	if err != nil {
		a.log.Warn("portal: no Japanese font for record PDFs; PDF downloads are unavailable (install fonts-ipaexfont-gothic or set --pdf-font)", "font", p.pdfFont, "err", err)
		return
	}
	if err := recordpdf.CheckFont(font); err != nil {
		a.log.Warn("portal: the font for record PDFs does not work; PDF downloads are unavailable", "font", p.pdfFont, "err", err)
		return
	}
	cfg.PDFFont = font
}
