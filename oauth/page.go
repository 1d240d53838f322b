package oauth

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
)

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
	Error          string
}

// detailView is one authorization_details entry as the customer reads it.
type detailView struct {
	Title string
	Lines []string
}

// describeDetails renders details for the consent page: every member the
// server accepted is shown (unknown members were refused at PAR), so the
// customer approves exactly what the token will carry.
func describeDetails(ds []Detail) []detailView {
	var out []detailView
	for _, d := range ds {
		switch d.Type {
		case DetailTransfer:
			v := detailView{Title: "振込 Transfer"}
			v.Lines = append(v.Lines, "金額 Amount: "+yen(d.Amount))
			if p := d.Payee; p != nil {
				v.Lines = append(v.Lines, "振込先 Payee: "+p.Name,
					fmt.Sprintf("口座 Account: 金融機関 %s 支店 %s %s %s", p.BankCode, p.BranchCode, accountTypeJa(p.AccountType), p.AccountNumber))
			}
			v.Lines = append(v.Lines, "目的 Purpose: "+d.Purpose)
			out = append(out, v)
		case DetailAccounts:
			v := detailView{Title: "口座情報の照会 Account information"}
			v.Lines = append(v.Lines, "操作 Access: "+strings.Join(d.Actions, ", "))
			if len(d.Accounts) == 0 {
				v.Lines = append(v.Lines, "対象 Accounts: すべての口座 all accounts")
			}
			for _, a := range d.Accounts {
				v.Lines = append(v.Lines, fmt.Sprintf("口座 Account: 金融機関 %s 支店 %s %s %s", a.BankCode, a.BranchCode, accountTypeJa(a.AccountType), a.AccountNumber))
			}
			out = append(out, v)
		}
		if len(d.Locations) > 0 {
			out[len(out)-1].Lines = append(out[len(out)-1].Lines, "提供先 At: "+strings.Join(d.Locations, ", "))
		}
	}
	return out
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
<title>Madoguchi</title></head><body>
<main>
{{if .Error}}<p role="alert" id="error">{{.Error}}</p>{{end}}
{{if .Interaction}}
<h1>{{.Client}} へのアクセス許可 / Allow {{.Client}}</h1>
{{if .BindingMessage}}<p>確認コード Binding message: <strong id="binding-message">{{.BindingMessage}}</strong></p>{{end}}
{{if .Scopes}}<p>範囲 Scopes: {{range .Scopes}}<code>{{.}}</code> {{end}}</p>{{end}}
{{range .Details}}<section class="detail"><h2>{{.Title}}</h2><ul>{{range .Lines}}<li>{{.}}</li>{{end}}</ul></section>{{end}}
<form method="post" action="{{.Action}}" id="consent">
<input type="hidden" name="interaction" value="{{.Interaction}}">
{{range .Fields}}<p><label>{{.Label}} <input name="{{.Name}}" type="{{.Type}}" autocomplete="off"></label></p>{{end}}
{{with .Link}}<p id="customer-step-text">{{.Text}}</p>{{if .URL}}<p><a id="customer-step" href="{{.URL}}" target="_blank" rel="noopener noreferrer">{{.Label}}</a></p>{{end}}{{end}}
<button type="submit" name="decision" value="approve" id="approve">許可する Approve</button>
<button type="submit" name="decision" value="deny" id="deny">拒否する Deny</button>
</form>
{{if .Challenge}}<script type="application/json" id="customer-challenge">{{.Challenge}}</script>{{end}}
{{if .ScriptURL}}<script src="{{.ScriptURL}}"></script>{{end}}
{{end}}
</main></body></html>
`))

// renderPage writes a page under a strict CSP: no inline script, forms
// post only to this server (and to the client's redirect origin, where the
// 303 goes), no framing.
func renderPage(w http.ResponseWriter, status int, formTarget string, d pageData) {
	fa := "'self'"
	if formTarget != "" {
		fa += " " + formTarget
	}
	script := "'none'"
	if d.ScriptURL != "" {
		script = "'self'"
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src "+script+"; form-action "+fa+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, d)
}
