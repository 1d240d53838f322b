package portal

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
)

// CSRF protection is one check on every POST, before the session is even
// looked at (checkCSRF). Two independent defences must both pass:
//
//   - Same origin: Go's CrossOriginProtection refuses a request whose
//     Sec-Fetch-Site (or, from older browsers, Origin) names another site.
//   - A token: the page's forms carry csrfToken(binding) in the field
//     "csrf", the scripts send it in the header X-CSRF-Token. The binding is
//     the __Host-mdg_browser cookie (random, HttpOnly, SameSite=Strict),
//     renewed at every sign-in, so a token is bound to one browser and one
//     sign-in and is useless elsewhere. The token is a hash of the binding:
//     nothing is stored server-side and any instance can check it.
//
// Session cookies are SameSite=Strict as well, so a cross-site post would
// arrive without a session anyway; the checks above also protect the
// sign-in form itself (login CSRF).

// csrfToken derives the token for a browser binding.
func csrfToken(binding string) string {
	if binding == "" {
		return ""
	}
	h := sha256.Sum256([]byte("madoguchi portal csrf\x00" + binding))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// CSRFHeader carries the token on script requests.
const CSRFHeader = "X-CSRF-Token"

func (s *Server) checkCSRF(rq *Request) error {
	if err := s.origin.Check(rq.R); err != nil {
		return errCSRF
	}
	want := csrfToken(rq.browser)
	if want == "" {
		return errCSRF
	}
	got := rq.R.Header.Get(CSRFHeader)
	if got == "" && !rq.route.JSON {
		ct := rq.R.Header.Get("Content-Type")
		switch {
		case rq.route.Upload && strings.HasPrefix(ct, "multipart/form-data"):
			// Only the first part is read here (upload.go).
			var err error
			if got, err = rq.uploadToken(); err != nil {
				return err
			}
		case !strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
			return errCSRF
		default:
			if err := rq.R.ParseForm(); err != nil {
				return errTooLargeOr(err)
			}
			got = rq.R.PostForm.Get("csrf")
		}
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errCSRF
	}
	return nil
}
