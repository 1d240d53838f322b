package portal

// Call-backs of transaction authentication's monitoring: the open alerts
// that name a customer, each with a form to record the call-back made to
// the customer (outcome and an optional note, which txauth seals under the
// customer's subject), and the call-backs recorded (without their notes).

import (
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/madoguchi/madoguchi/txauth"
)

// callbackOutcomes are the outcomes a call-back is recorded with.
var callbackOutcomes = []string{"confirmed_by_customer", "denied_by_customer", "unreachable"}

func txauthCallbacksShow(rq *Request) error {
	m := rq.s.cfg.TxAuth
	data := map[string]any{"Enabled": m != nil, "Alerts": []txauth.Alert{}, "Callbacks": []txauth.Callback{}, "Outcomes": callbackOutcomes}
	if m == nil {
		return rq.Render(http.StatusOK, "txauth_callbacks", "txauth.callbacks.title", data)
	}
	st := monitorStaff(rq)
	alerts, err := m.ListAlerts(rq.Ctx(), st, "open", 100)
	if err != nil {
		return monitorErr(err)
	}
	cbs, err := m.Callbacks(rq.Ctx(), st)
	if err != nil {
		return monitorErr(err)
	}
	data["Alerts"] = slices.DeleteFunc(alerts, func(a txauth.Alert) bool { return a.CustomerID == "" })
	data["Callbacks"] = cbs
	return rq.Render(http.StatusOK, "txauth_callbacks", "txauth.callbacks.title", data)
}

func txauthCallbackRecord(rq *Request) error {
	m := rq.s.cfg.TxAuth
	if m == nil {
		return ErrNotFound
	}
	if err := rq.R.ParseForm(); err != nil {
		return errTooLargeOr(err)
	}
	alert, outcome := strings.TrimSpace(rq.R.PostFormValue("alert")), rq.R.PostFormValue("outcome")
	note := strings.Join(strings.Fields(rq.R.PostFormValue("note")), " ") // one line
	if alert == "" || len(alert) > maxFormID || !slices.Contains(callbackOutcomes, outcome) || utf8.RuneCountInString(note) > txauth.MaxNoteLen {
		return errBadInput
	}
	if _, err := m.RecordCallback(rq.Ctx(), monitorStaff(rq), alert, outcome, note); err != nil {
		return monitorErr(err)
	}
	rq.Flash("flash.monitor_done")
	return rq.Redirect(Prefix + "/monitor/callbacks")
}
