package portal

import (
	"context"
	"errors"
	"net/http"

	"github.com/madoguchi/madoguchi/notify"
)

// deliveryKind is a webhook event, owned by its tenant ("" an
// installation event: operator staff only).
func (s *Server) deliveryKind() ObjectKind[notify.Delivery] {
	return ObjectKind[notify.Delivery]{Name: "webhook",
		Fetch: func(ctx context.Context, _ Querier, id string) (notify.Delivery, Owner, error) {
			if s.cfg.Admin.Webhooks == nil {
				return notify.Delivery{}, Owner{}, ErrNotFound
			}
			d, err := s.cfg.Admin.Webhooks.Get(ctx, id)
			if errors.Is(err, notify.ErrNotFound) {
				err = ErrNotFound
			}
			return d, Owner{TenantID: d.Tenant}, err
		}}
}

// webhookStates are the filters the page offers ("" all).
var webhookStates = []string{"", notify.StatePending, notify.StateDead, notify.StateDelivered}

// webhookPage is how many deliveries a page of the list shows.
const webhookPage = 50

// adminWebhooks lists webhook deliveries, newest first, by state (?state=,
// default: failing ones, i.e. pending with failed attempts and dead),
// with retry (a pending event, now) and replay (a dead event) buttons for
// admins. A tenant's staff see their tenant's events; operator staff all,
// or one tenant's with ?tenant=.
func adminWebhooks(rq *Request) error {
	wh := rq.s.cfg.Admin.Webhooks
	if wh == nil {
		return errNoService
	}
	tid, err := rq.scopeTenant()
	if err != nil {
		return err
	}
	all := rq.Principal.Operator() && tid == ""
	state := rq.R.URL.Query().Get("state")
	valid := false
	for _, s := range webhookStates {
		valid = valid || s == state
	}
	if !valid {
		state = ""
	}
	pg := rq.Pager(webhookPage)
	list, err := wh.ListTenant(rq.Ctx(), tid, all, state, pg.Limit(), pg.Offset())
	if err != nil {
		return err
	}
	list = Trim(&pg, list)
	choices, err := rq.tenantChoices(tid)
	if err != nil {
		return err
	}
	return rq.Render(http.StatusOK, "admin_webhooks", "admin.webhooks.title", map[string]any{
		"Deliveries": list, "State": state, "States": webhookStates, "TenantID": tid, "Tenants": choices, "Admin": rq.isAdmin(), "Pager": pg})
}

// adminWebhookRetry makes a pending (failing) event due now.
func adminWebhookRetry(rq *Request) error { return webhookAction(rq, false) }

// adminWebhookReplay sends a dead event again with a fresh attempt count.
func adminWebhookReplay(rq *Request) error { return webhookAction(rq, true) }

func webhookAction(rq *Request, replay bool) error {
	wh := rq.s.cfg.Admin.Webhooks
	if wh == nil {
		return errNoService
	}
	d, err := Load(rq, rq.s.deliveryKind(), rq.PathValue("id"))
	if err != nil {
		return err
	}
	back := Prefix + "/admin/webhooks"
	if rq.Principal.Operator() && d.Tenant != "" {
		back += "?tenant=" + d.Tenant
	}
	if err := rq.RequireRecentAuth(back); err != nil {
		return err
	}
	if replay {
		err = wh.Replay(rq.Ctx(), rq.notifyActor(), d.ID)
	} else {
		err = wh.Retry(rq.Ctx(), rq.notifyActor(), d.ID)
	}
	switch {
	case errors.Is(err, notify.ErrNotDead), errors.Is(err, notify.ErrNotPending):
		rq.Flash("flash.webhook_state")
	case err != nil:
		return err
	case replay:
		rq.Flash("flash.webhook_replayed")
	default:
		rq.Flash("flash.webhook_retried")
	}
	return rq.Redirect(back)
}
