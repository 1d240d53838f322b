package portal

import (
	"net/url"
	"strconv"
)

// Pager is the pagination helper for list pages: ?page=N (1-based) with a
// fixed page size. A page asks for Limit()+1 rows at Offset() and reports
// whether there were more with SetMore, so no page needs a count over a
// large table; the "pager" template block renders previous/next links.
type Pager struct {
	Page int
	Size int
	More bool   // a next page exists
	base string // the request path with the other query parameters
	q    url.Values
}

// MaxPage bounds ?page= (deep offsets are a search problem, not paging).
const MaxPage = 10000

// Pager reads ?page= (invalid or out-of-range values mean page 1).
func (rq *Request) Pager(size int) Pager {
	if size <= 0 || size > 200 {
		size = 50
	}
	q := rq.R.URL.Query()
	n, err := strconv.Atoi(q.Get("page"))
	if err != nil || n < 1 || n > MaxPage {
		n = 1
	}
	return Pager{Page: n, Size: size, base: rq.R.URL.Path, q: q}
}

// Offset is the first row of the page.
func (p Pager) Offset() int { return (p.Page - 1) * p.Size }

// Limit is how many rows to ask for: one more than the page shows, to
// learn whether a next page exists.
func (p Pager) Limit() int { return p.Size + 1 }

// Trim cuts rows fetched with Limit to the page and records whether there
// were more.
func Trim[T any](p *Pager, rows []T) []T {
	if len(rows) > p.Size {
		p.More = true
		return rows[:p.Size]
	}
	return rows
}

// HasPrev reports whether a previous page exists.
func (p Pager) HasPrev() bool { return p.Page > 1 }

// PrevURL and NextURL keep the other query parameters.
func (p Pager) PrevURL() string { return p.url(p.Page - 1) }
func (p Pager) NextURL() string { return p.url(p.Page + 1) }

func (p Pager) url(n int) string {
	q := url.Values{}
	for k, v := range p.q {
		q[k] = v
	}
	q.Set("page", strconv.Itoa(n))
	return p.base + "?" + q.Encode()
}
