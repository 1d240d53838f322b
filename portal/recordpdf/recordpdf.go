// Package recordpdf renders a verification record (確認記録) as PDF for the
// portal's download: the record as a person reads it, in Japanese with
// English labels, with its retention and a summary of its audit proof,
// and the machine-readable download (record, audit proof bundle) attached
// to the document as record.json, so one file carries both and `madoguchi
// audit verify --proof record.json` checks the attachment offline.
//
// Japanese text needs a font with its glyphs embedded in the PDF: the
// caller passes a TrueType font (IPAexGothic from Debian's
// fonts-ipaexfont-gothic, IPA Font License v1.0); only the glyphs used are
// embedded (subset). Rendering never touches the network or the disk.
//
// Why a library (codeberg.org/go-pdf/fpdf) rather than a hand-written PDF:
// embedding a Japanese font correctly means a CIDFontType2 font with a
// subset of the TrueType glyphs, a ToUnicode map (so that the text can be
// searched and copied) and widths; fpdf does that, and attachments, with no
// dependency of its own. IPAexGothic is 6 MB; the subset keeps a record's
// PDF around 60 KB.
package recordpdf

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
)

// Input is what the PDF shows.
type Input struct {
	Record     *ekyc.Record
	Tenant     string
	Retention  ekyc.Retention
	Rule       string // the retention rule, one sentence
	ExportedAt time.Time
	Proof      audit.ProofBundle
	Checkpoint audit.Checkpoint // the proof's checkpoint, parsed
	// Attachment is the JSON download, attached as record.json.
	Attachment []byte
}

// ErrNoFont: no font was given.
var ErrNoFont = errors.New("recordpdf: a TrueType font with Japanese glyphs is required")

// MaxFontBytes bounds the font read at start-up.
const MaxFontBytes = 32 << 20

const family = "jp"

// Render returns the PDF.
func Render(in Input, font []byte) ([]byte, error) {
	if len(font) == 0 {
		return nil, ErrNoFont
	}
	if in.Record == nil {
		return nil, errors.New("recordpdf: no record")
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(true)
	pdf.AddUTF8FontFromBytes(family, "", font)
	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("recordpdf: font: %w", err)
	}
	r := in.Record
	pdf.SetTitle("確認記録 "+r.ID, true)
	pdf.SetSubject("Verification record "+r.ID, true)
	pdf.SetCreator("Madoguchi", true)
	pdf.SetCreationDate(in.ExportedAt)
	pdf.SetModificationDate(in.ExportedAt)
	pdf.SetMargins(18, 18, 18)
	pdf.SetAutoPageBreak(true, 18)
	pdf.SetAttachments([]fpdf.Attachment{{Content: in.Attachment, Filename: "record.json", Description: "record and audit proof (JSON)"}})
	pdf.AddPage()

	w := &writer{pdf: pdf}
	pdf.SetFont(family, "", 16)
	pdf.MultiCell(0, 9, "確認記録 (Verification record)", "", "L", false)
	pdf.SetFont(family, "", 9)
	pdf.MultiCell(0, 5, "犯罪収益移転防止法 施行規則第20条 — "+in.Tenant, "", "L", false)
	pdf.Ln(2)

	w.section("記録 / Record")
	w.row("記録ID / Record id", r.ID)
	w.row("セッションID / Session id", r.SessionID)
	w.row("参照番号 / Reference", r.Reference)
	w.row("作成日時 / Created", stamp(r.CreatedAt))
	w.row("確認方法 / Method", fmt.Sprintf("%s (%s) — %s, %s〜", r.Method.Letter, r.Method.Code, r.Method.Citation, r.Method.EffectiveFrom))
	w.row("確認者 / Verified by", r.Verifier.Kind+" "+r.Verifier.ID)
	w.row("記録者 / Recorded by", r.Recorder)
	if !r.ImagesReceivedAt.IsZero() {
		w.row("画像受信 / Images received", stamp(r.ImagesReceivedAt))
	}
	if !r.ChipReceivedAt.IsZero() {
		w.row("ICチップ受信 / Chip received", stamp(r.ChipReceivedAt))
	}

	w.section("本人特定事項 / Identity")
	keys := make([]string, 0, len(r.Claims))
	for k := range r.Claims {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w.row(k, value(r.Claims[k]))
	}
	if d := r.Document; d != nil {
		w.row("書類 / Document", d.Type)
		if d.DocumentNumber != "" {
			w.row("番号 / Number", d.DocumentNumber)
		}
		if d.DateOfExpiry != "" {
			w.row("有効期限 / Expiry", d.DateOfExpiry)
		}
	}

	if d := r.Decision; d != nil {
		w.section("判定 / Decision")
		w.row("結果 / Outcome", string(d.Outcome))
		w.row("判定者 / Decided by", d.DecidedBy)
		w.row("判定日時 / Decided", stamp(d.DecidedAt))
		codes := d.ReasonCodes()
		if d.Automated != nil {
			codes = d.Automated.ReasonCodes()
		}
		w.row("自動判定の理由 / Automated reasons", strings.Join(codes, ", "))
		if len(d.ReviewReasons) > 0 {
			w.row("審査理由 / Review reasons", strings.Join(d.ReviewReasons, ", "))
		}
		if d.ReviewNote != "" {
			w.row("審査メモ / Review note", d.ReviewNote)
		}
		for i, a := range d.Approvals {
			w.row(fmt.Sprintf("承認 %d / Approval %d", i+1, i+1), a.By+" "+stamp(a.At))
		}
		if s, ok := d.Scores["face_match"]; ok {
			w.row("顔照合 / Face match", fmt.Sprintf("%.4f (threshold %.4f at FMR %g)", s, d.Thresholds["face_match"], d.Thresholds["face_match_target_fmr"]))
		}
		w.row("ポリシー版 / Policy version", fmt.Sprint(d.PolicyVersion))
	}

	if len(r.Checks) > 0 {
		w.section("ICチップの検証 / Chip checks")
		for _, c := range r.Checks {
			m := ""
			if c.Mandatory {
				m = " (mandatory)"
			}
			w.row(c.Name, string(c.Result)+m)
		}
	}

	w.section("証跡 / Evidence")
	for _, e := range r.Evidence {
		w.row(e.Kind, "sha256 "+e.SHA256)
	}

	w.section("保存期間 / Retention")
	switch {
	case !in.Retention.ShreddedAt.IsZero():
		w.row("消去 / Shredded", stamp(in.Retention.ShreddedAt))
	case !in.Retention.RetainUntil.IsZero():
		w.row("契約終了 / Contract ended", stamp(in.Retention.ContractEndedAt))
		w.row("保存期限 / Retain until", in.Retention.RetainUntil.Format(time.DateOnly))
	default:
		w.row("保存期限 / Retain until", "契約終了の7年後 (contract end not yet reported)")
	}
	w.row("規則 / Rule", in.Rule)

	w.section("監査証明 / Audit proof")
	w.row("ログ / Log", in.Checkpoint.Origin)
	w.row("チェックポイント / Checkpoint", fmt.Sprintf("size %d", in.Checkpoint.Size))
	w.row("記録数 / Entries", fmt.Sprint(len(in.Proof.Entries)))
	for _, e := range in.Proof.Entries {
		if en, err := audit.ParseLeaf(e.Leaf); err == nil {
			w.row(fmt.Sprintf("#%d", e.Index), stamp(en.Time)+" "+en.Action+" "+en.ActorKind+" "+en.ActorID)
		}
	}
	pdf.Ln(2)
	pdf.SetFont(family, "", 8)
	pdf.MultiCell(0, 4.5, "The record and its audit proof are attached to this PDF as record.json. "+
		"Extract it (for example: pdfdetach -saveall record.pdf) and check it offline with the log's verifier key: "+
		"madoguchi audit verify --key KEY --proof record.json", "", "L", false)
	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("recordpdf: %w", err)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("recordpdf: %w", err)
	}
	return buf.Bytes(), nil
}

type writer struct{ pdf *fpdf.Fpdf }

func (w *writer) section(title string) {
	w.pdf.Ln(3)
	w.pdf.SetFont(family, "", 12)
	w.pdf.MultiCell(0, 7, title, "B", "L", false)
	w.pdf.SetFont(family, "", 9)
	w.pdf.Ln(1)
}

// row writes a label and its value; long values wrap under the value
// column.
func (w *writer) row(label, val string) {
	const labelW = 58
	x, y := w.pdf.GetXY()
	w.pdf.MultiCell(labelW, 5, label, "", "L", false)
	y1 := w.pdf.GetY()
	if y1 < y { // a page break inside the label
		y = w.pdf.GetY() - 5
	}
	w.pdf.SetXY(x+labelW, y)
	w.pdf.MultiCell(0, 5, val, "", "L", false)
	if w.pdf.GetY() < y1 {
		w.pdf.SetY(y1)
	}
	w.pdf.SetX(x)
}

func value(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, k+": "+value(x[k]))
		}
		return strings.Join(parts, "; ")
	}
	return fmt.Sprint(v)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// CheckFont renders a line of Japanese with font: a server checks its
// font once at start-up instead of failing at the first download.
func CheckFont(font []byte) error {
	if len(font) == 0 {
		return ErrNoFont
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.AddUTF8FontFromBytes(family, "", font)
	pdf.AddPage()
	pdf.SetFont(family, "", 10)
	pdf.Cell(0, 5, "確認記録")
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return fmt.Errorf("recordpdf: font: %w", err)
	}
	return nil
}
