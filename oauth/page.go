package oauth

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
)

// PathStyle is the consent and device pages' style sheet: the customer
// pages' one (internal/pagestyle), which txauth's confirmation page uses
// too, served on this origin so the pages' CSP allows it with style-src
// 'self'.
const PathStyle = "/oauth/page.css"

// pageData is what the consent and device pages show.
type pageData struct {
	Client         string
	Scopes         []string
	Details        []detailView
	BindingMessage string
	Interaction    string
	Action         string
	Fields         []FormField
	Challenge      string
	ScriptURL      string
	Link           *FormLink
	// Error is a refusal or failure (role="alert"); Notice an outcome
	// that is not one (role="status"): a CIBA request approved or
	// declined.
	Error  string
	Notice string
}

// detailView is one authorization_details entry as the customer reads it.
type detailView struct {
	Title string
	Items []detailItem
}

// detailItem is one line of a detail: a label and its value; Field names
// it for the page's style (amount and payee set apart) and for tests.
type detailItem struct {
	Label, Value, Field string
}

// describeDetails renders details for the consent page: every member the
// server accepted is shown (unknown members were refused at PAR), so the
// customer approves exactly what the token will carry.
func describeDetails(ds []Detail) []detailView {
	var out []detailView
	for _, d := range ds {
		var v detailView
		add := func(label, value, field string) { v.Items = append(v.Items, detailItem{label, value, field}) }
		switch d.Type {
		case DetailTransfer:
			v.Title = "振込 Transfer"
			add("金額 Amount", yen(d.Amount), "amount")
			if p := d.Payee; p != nil {
				add("振込先 Payee", p.Name, "payee")
				add("口座 Account", account(p.BankCode, p.BranchCode, p.AccountType, p.AccountNumber), "account")
			}
			add("目的 Purpose", d.Purpose, "purpose")
		case DetailAccounts:
			v.Title = "口座情報の照会 Account information"
			add("操作 Access", strings.Join(d.Actions, ", "), "actions")
			if len(d.Accounts) == 0 {
				add("対象 Accounts", "すべての口座 all accounts", "account")
			}
			for _, a := range d.Accounts {
				add("口座 Account", account(a.BankCode, a.BranchCode, a.AccountType, a.AccountNumber), "account")
			}
		default:
			continue
		}
		if len(d.Locations) > 0 {
			add("提供先 At", strings.Join(d.Locations, ", "), "locations")
		}
		out = append(out, v)
	}
	return out
}

func account(bank, branch, typ, number string) string {
	return fmt.Sprintf("金融機関 %s 支店 %s %s %s", bank, branch, accountTypeJa(typ), number)
}

func yen(amount string) string {
	n, err := strconv.ParseInt(amount, 10, 64)
	if err != nil {
		return amount
	}
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return "¥" + b.String()
}

func accountTypeJa(t string) string {
	switch t {
	case "ordinary":
		return "普通"
	case "current":
		return "当座"
	case "savings":
		return "貯蓄"
	}
	return t
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>アクセスの許可 — Madoguchi</title>
<link rel="stylesheet" href="` + PathStyle + `">
</head><body>
<header><span class="brand">アクセスの許可 Access request</span></header>
<main>
{{if .Error}}<p role="alert" id="error" class="alert">{{.Error}}</p>{{end}}
{{if .Notice}}<p role="status" id="notice" class="notice">{{.Notice}}</p>{{end}}
{{if .Interaction}}
<h1>{{.Client}} へのアクセス許可 / Allow {{.Client}}</h1>
<p class="lead">{{.Client}} が次の内容を求めています。確かめてから、許可するか拒否するかを選んでください。 {{.Client}} asks for what is shown below: check it, then approve or deny.</p>
{{if .BindingMessage}}<p class="binding">確認コード Binding message: <strong id="binding-message">{{.BindingMessage}}</strong></p>{{end}}
{{if .Scopes}}<p class="scopes">範囲 Scopes: {{range .Scopes}}<code>{{.}}</code>{{end}}</p>{{end}}
{{range .Details}}<section class="detail"><h2>{{.Title}}</h2><dl class="tx">{{range .Items}}<dt>{{.Label}}</dt><dd class="{{.Field}}" data-field="{{.Field}}">{{.Value}}</dd>{{end}}</dl></section>{{end}}
<form method="post" action="{{.Action}}" id="consent">
<input type="hidden" name="interaction" value="{{.Interaction}}">
{{range .Fields}}{{if eq .Type "hidden"}}<input type="hidden" name="{{.Name}}">{{else}}<p class="field"><label for="field-{{.Name}}">{{.Label}}</label><input id="field-{{.Name}}" name="{{.Name}}" type="{{.Type}}" autocomplete="off"></p>{{end}}{{end}}
{{with .Link}}<p id="customer-step-text" class="lead">{{.Text}}</p>{{if .URL}}<p><a id="customer-step" href="{{.URL}}" class="step" target="_blank" rel="noopener noreferrer">{{.Label}}</a></p>{{end}}{{end}}
<button type="submit" name="decision" value="approve" id="approve" class="primary">許可する Approve</button>
<button type="submit" name="decision" value="deny" id="deny" class="secondary">拒否する Deny</button>
</form>
{{if .Challenge}}<script type="application/json" id="customer-challenge">{{.Challenge}}</script>{{end}}
{{if .ScriptURL}}<script src="{{.ScriptURL}}"></script>{{end}}
{{end}}
</main></body></html>
`))

// renderPage writes a page under a strict CSP: no inline script or style,
// the one style sheet from this origin, forms post only to this server
// (and to the client's redirect origin, where the 303 goes), no framing.
func renderPage(w http.ResponseWriter, status int, formTarget string, d pageData) {
	h := w.Header()
	h.Set("Content-Security-Policy", pageCSP(formTarget, d.ScriptURL != ""))
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, d)
}

// pageCSP is the pages' Content-Security-Policy: nothing by default;
// styles from this origin (PathStyle); scripts only when the customer
// step loads one.
func pageCSP(formTarget string, script bool) string {
	fa := "'self'"
	if formTarget != "" {
		fa += " " + formTarget
	}
	sc := "'none'"
	if script {
		sc = "'self'"
	}
	return "default-src 'none'; style-src 'self'; script-src " + sc + "; form-action " + fa + "; frame-ancestors 'none'; base-uri 'none'"
}
