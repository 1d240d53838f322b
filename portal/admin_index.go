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
	return rq.Render(http.StatusOK, "admin", "admin.title", map[string]any{"Sections": out})
}
