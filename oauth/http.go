package oauth

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"strings"

	"github.com/madoguchi/madoguchi/internal/pagestyle"
	"github.com/madoguchi/madoguchi/tenant"
)

// Body limits: a pushed request may carry a request object and
// authorization_details; the other endpoints a client assertion and a token.
const (
	maxFormBody  = 64 << 10
	maxSmallForm = 16 << 10
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyInteraction
)

// WithRequestID returns ctx carrying the HTTP layer's request id, which
// audit entries record.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, keyRequestID, id)
}

func requestID(ctx context.Context) string {
	s, _ := ctx.Value(keyRequestID).(string)
	return s
}

// fapiIDRE: x-fapi-interaction-id is an RFC 4122 UUID.
var fapiIDRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// InteractionID returns the request's x-fapi-interaction-id if it is a
// UUID, or a fresh one; FAPIInteraction echoes and logs it.
func InteractionID(r *http.Request) string {
	if v := r.Header.Get("X-Fapi-Interaction-Id"); fapiIDRE.MatchString(v) {
		return strings.ToLower(v)
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Routes returns the server's ServeMux patterns and handlers. Every OAuth
// endpoint answers RFC 6749 JSON errors; the pages answer HTML.
func (s *Server) Routes() map[string]http.Handler {
	if s.cfg.Customers == nil {
		return map[string]http.Handler{
			"GET /.well-known/oauth-authorization-server": s.wrap(s.metadata),
			"GET /.well-known/openid-configuration":       s.wrap(s.metadata),
			"POST " + PathToken:                           s.wrap(s.token),
		}
	}
	return map[string]http.Handler{
		"GET /.well-known/oauth-authorization-server": s.wrap(s.metadata),
		"GET /.well-known/openid-configuration":       s.wrap(s.metadata),
		"GET " + PathJWKS:                             s.wrap(s.jwks),
		"POST " + PathPAR:                             s.wrap(s.par),
		"GET " + PathAuthorize:                        s.wrapPage(s.authorize),
		"POST " + PathDecide:                          s.wrapPage(s.decide),
		"POST " + PathToken:                           s.wrap(s.token),
		"POST " + PathIntrospect:                      s.wrap(s.introspect),
		"POST " + PathRevoke:                          s.wrap(s.revoke),
		"POST " + PathCIBA:                            s.wrap(s.backchannel),
		"GET " + PathDevice:                           s.wrapPage(s.devicePage),
		"GET " + PathStyle:                            pagestyle.Handler(),
		"POST " + PathDevice:                          s.wrapPage(s.deviceDecide),
		"GET " + PathUserInfo:                         s.wrap(s.userinfo),
		"POST " + PathUserInfo:                        s.wrap(s.userinfo),
	}
}

type apiHandler func(w http.ResponseWriter, r *http.Request) error

// wrap runs an OAuth endpoint: x-fapi-interaction-id accepted, echoed and
// logged; no caching; errors rendered as RFC 6749 JSON.
func (s *Server) wrap(h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fid := InteractionID(r)
		w.Header().Set("X-Fapi-Interaction-Id", fid)
		w.Header().Set("Cache-Control", "no-store")
		ctx := context.WithValue(r.Context(), keyInteraction, fid)
		r = r.WithContext(ctx)
		err := h(w, r)
		if err == nil {
			s.log.LogAttrs(ctx, slog.LevelInfo, "oauth", slog.String("x_fapi_interaction_id", fid), slog.String("path", r.URL.Path), slog.String("request_id", requestID(ctx)))
			return
		}
		s.renderError(w, r, err, fid)
	})
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error, fid string) {
	var e *Error
	if !errors.As(err, &e) {
		s.log.ErrorContext(r.Context(), "oauth endpoint failed", "err", err, "path", r.URL.Path, "x_fapi_interaction_id", fid)
		e = oerr(http.StatusInternalServerError, "server_error", "The server could not complete the request.", err)
	} else {
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "oauth error", slog.String("error", e.Code), slog.String("path", r.URL.Path),
			slog.String("x_fapi_interaction_id", fid), slog.String("request_id", requestID(r.Context())), slog.Any("cause", errString(e.Cause)))
	}
	if e.Challenge != "" {
		w.Header().Set("WWW-Authenticate", e.Challenge)
	}
	if e.Nonce != "" {
		w.Header().Set("DPoP-Nonce", e.Nonce)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(e.RetryAfter))
	}
	writeJSON(w, e.Status, map[string]string{"error": e.Code, "error_description": e.Description})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readForm parses an application/x-www-form-urlencoded body capped at
// maxFormBody. Query parameters are not merged in.
func readForm(w http.ResponseWriter, r *http.Request) (map[string][]string, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return nil, oerr(http.StatusUnsupportedMediaType, "invalid_request", "Send the request as application/x-www-form-urlencoded.", nil)
	}
	limit := int64(maxSmallForm)
	if r.URL.Path == PathPAR || r.URL.Path == PathCIBA {
		limit = maxFormBody
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, oerr(http.StatusRequestEntityTooLarge, "invalid_request", "The request body is too large.", err)
		}
		return nil, invalidRequest("The form could not be parsed.", err)
	}
	return r.PostForm, nil
}

func peerCert(r *http.Request) *x509.Certificate {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return r.TLS.PeerCertificates[0]
	}
	return nil
}

// peerIntermediates are the certificates the client sent after its own.
func peerIntermediates(r *http.Request) []*x509.Certificate {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 1 {
		return r.TLS.PeerCertificates[1:]
	}
	return nil
}

// authenticateClient authenticates the client of an OAuth endpoint; every
// failure is invalid_client (401) with the reason kept for the log.
func (s *Server) authenticateClient(r *http.Request, form map[string][]string) (tenant.Client, error) {
	req, err := tenant.ParseClientAuth(form)
	if err != nil {
		return tenant.Client{}, invalidRequest("A client authentication parameter is repeated or too long.", err)
	}
	req.PeerCert, req.PeerIntermediates = peerCert(r), peerIntermediates(r)
	req.RequestID = requestID(r.Context())
	c, err := s.cfg.Clients.AuthenticateClient(r.Context(), req)
	if err != nil {
		if errors.Is(err, tenant.ErrInvalidClient) {
			e := oerr(http.StatusUnauthorized, "invalid_client", "Client authentication failed.", err)
			e.Challenge = clientChallenge(r)
			return tenant.Client{}, e
		}
		return tenant.Client{}, err
	}
	return c, nil
}

// clientChallenge is the WWW-Authenticate of an invalid_client answer (RFC
// 6749 §5.2): a challenge of the scheme the client tried in the
// Authorization header (none is supported for client authentication
// here), and none when it authenticated in the body (private_key_jwt) or
// with its TLS certificate, which no HTTP authentication scheme describes.
func clientChallenge(r *http.Request) string {
	scheme, _, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || scheme == "" || len(scheme) > 32 {
		return ""
	}
	for _, c := range []byte(scheme) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return ""
		}
	}
	if strings.EqualFold(scheme, "Basic") {
		return `Basic realm="madoguchi", charset="UTF-8"`
	}
	return scheme + ` realm="madoguchi"`
}

// endpointURL is the URL of r as the client addressed it (for DPoP htu).
func (s *Server) endpointURL(r *http.Request) string { return s.issuer + r.URL.Path }
