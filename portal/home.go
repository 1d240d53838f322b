package portal

import "net/http"

// homeShow lists what the signed-in person can do: the pages their roles
// open, with a line on each, and their roles.
func homeShow(rq *Request) error {
	return rq.Render(http.StatusOK, "home", "home.title", map[string]any{"Items": rq.s.nav(rq)})
}
