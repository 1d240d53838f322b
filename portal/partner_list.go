package portal

import (
	"net/http"

	"github.com/madoguchi/madoguchi/oauth"
)

// partnerRow is a partner client as the list shows it.
type partnerRow struct {
	oauth.Profile
	Name string
}

// partnerList lists the partner clients (OAuth profiles) the person may
// see: a tenant's staff their tenant's, operator staff every tenant's,
// with their onboarding state.
func partnerList(rq *Request) error {
	ps := rq.s.cfg.Partners
	data := map[string]any{"Enabled": ps != nil, "Rows": []partnerRow{}}
	if ps == nil {
		return rq.Render(http.StatusOK, "partners", "partner.list_title", data)
	}
	tid, all := rq.TenantFilter()
	profiles, err := ps.ProfilesIn(rq.Ctx(), tid, all)
	if err != nil {
		return err
	}
	rows := make([]partnerRow, 0, len(profiles))
	for _, p := range profiles {
		r := partnerRow{Profile: p, Name: p.ClientID}
		if ts := rq.s.cfg.Admin.Tenants; ts != nil {
			if c, err := ts.Client(rq.Ctx(), p.TenantID, p.ClientID); err == nil {
				r.Name = c.Name
			}
		}
		rows = append(rows, r)
	}
	data["Rows"] = rows
	return rq.Render(http.StatusOK, "partners", "partner.list_title", data)
}
