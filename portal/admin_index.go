package portal

import (
	"net/http"
	"strings"
)

// adminSection is one entry of the administration index.
type adminSection struct {
	Path, Title, Hint string
}

// adminIndex lists the administration sections the person may open: the
// GET routes under /admin/ that carry a Hint.
func adminIndex(rq *Request) error {
	var out []adminSection
	for i := range rq.s.routes {
		rt := &rq.s.routes[i]
		if rt.Method != http.MethodGet || rt.Hint == "" || !strings.HasPrefix(rt.Path, "/admin/") || !rq.Principal.may(rt) {
			continue
		}
		key := strings.TrimPrefix(rt.Hint, "hint.")
		out = append(out, adminSection{Path: Prefix + rt.Path, Title: key + ".title", Hint: rt.Hint})
	}
	// Requests waiting for this person's decision.
	waiting := 0
	if sa := rq.s.cfg.Admin.Staff; sa != nil && rq.isAdmin() {
		tid, all := rq.TenantFilter()
		list, err := sa.ApprovalsIn(rq.Ctx(), tid, all, "pending")
		if err != nil {
			return err
		}
		for _, a := range list {
			if a.Requester != rq.Principal.StaffID && rq.s.cfg.Now().Before(a.ExpiresAt) {
				waiting++
			}
		}
	}
	return rq.Render(http.StatusOK, "admin", "admin.title", map[string]any{"Sections": out, "Waiting": waiting})
}
