package main

import (
	"crypto/sha256"
	"embed"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/madoguchi/madoguchi/credential"
	"github.com/madoguchi/madoguchi/ekyc"
)

//go:embed branchpage
var branchPage embed.FS

// maxBranchBody bounds a frame upload (base64 JPEG in JSON).
const maxBranchBody = ekyc.MaxImageBytes*4/3 + 4096

func (b *branchApp) routes() http.Handler {
	mux := http.NewServeMux()
	static := func(name, ctype string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := branchPage.ReadFile("branchpage/" + name)
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write(body)
		}
	}
	mux.HandleFunc("GET /{$}", static("index.html", "text/html; charset=utf-8"))
	mux.HandleFunc("GET /branch.js", static("branch.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /api/status", b.apiStatus)
	mux.HandleFunc("POST /api/scan", b.apiScan)
	mux.HandleFunc("POST /api/frame", b.apiFrame)
	mux.HandleFunc("POST /api/decide", b.apiDecide)
	mux.HandleFunc("POST /api/status-list", b.apiStatusList)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Loopback only, and no DNS rebinding: the Host must be a loopback address.
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil || !(host == "127.0.0.1" || host == "::1" || host == "localhost") {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		mux.ServeHTTP(w, r)
	})
}

func branchJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func branchError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "title": msg})
}

func readBranchJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBranchBody)).Decode(v); err != nil {
		branchError(w, http.StatusBadRequest, "malformed request")
		return false
	}
	return true
}

func (b *branchApp) apiStatus(w http.ResponseWriter, r *http.Request) {
	st := b.counter.Status()
	b.mu.Lock()
	out := map[string]any{"counter": st, "online": b.online, "last_sync": b.lastOK, "last_try": b.lastTry, "server": b.server != ""}
	b.mu.Unlock()
	branchJSON(w, http.StatusOK, out)
}

func (b *branchApp) apiScan(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Image []byte `json:"image"`
	}
	if !readBranchJSON(w, r, &in) {
		return
	}
	text, err := decodeQRFrame(in.Image)
	if err != nil {
		b.gate.clear()
		branchJSON(w, http.StatusOK, map[string]any{"found": false})
		return
	}
	if !b.gate.admit(text) {
		branchJSON(w, http.StatusOK, map[string]any{"found": false, "held": true})
		return
	}
	res, dec, err := b.counter.Scan(r.Context(), text)
	switch {
	case err != nil:
		branchError(w, http.StatusServiceUnavailable, "the verifier cannot take this credential now")
	case dec != nil:
		branchJSON(w, http.StatusOK, map[string]any{"found": true, "decision": dec})
	default:
		branchJSON(w, http.StatusOK, map[string]any{"found": true, "scan": res})
	}
}

// codeGate keeps the page from reading the code it just read again before
// that code left the camera's view: a customer's phone still held up when
// the clerk presses "next customer", or a camera that still delivers the
// last frame, would otherwise start a second verification of the same
// credential and log a second decision. A frame with no code clears it; a
// different code is read at once. Only a digest of the last code is kept.
type codeGate struct {
	mu   sync.Mutex
	last [sha256.Size]byte
	held bool
}

// admit reports whether text may be read now, and holds it.
func (g *codeGate) admit(text string) bool {
	h := sha256.Sum256([]byte(text))
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held && h == g.last {
		return false
	}
	g.last, g.held = h, true
	return true
}

// clear records a frame without a code.
func (g *codeGate) clear() {
	g.mu.Lock()
	g.held = false
	g.mu.Unlock()
}

func (b *branchApp) apiFrame(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Session string `json:"session"`
		Nonce   string `json:"nonce"`
		Image   []byte `json:"image"`
	}
	if !readBranchJSON(w, r, &in) {
		return
	}
	next, err := b.counter.Frame(in.Session, in.Nonce, in.Image)
	switch {
	case errors.Is(err, credential.ErrNotFound):
		branchError(w, http.StatusNotFound, "no such verification (expired?)")
	case err != nil:
		branchError(w, http.StatusConflict, "frame refused")
	default:
		branchJSON(w, http.StatusOK, map[string]string{"next_nonce": next})
	}
}

func (b *branchApp) apiDecide(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Session string `json:"session"`
	}
	if !readBranchJSON(w, r, &in) {
		return
	}
	d, err := b.counter.Decide(r.Context(), in.Session)
	switch {
	case errors.Is(err, credential.ErrNotFound):
		branchError(w, http.StatusNotFound, "no such verification (expired?)")
	case err != nil:
		b.log.Error("branch decision failed", "err", err)
		branchError(w, http.StatusServiceUnavailable, "the face engine could not decide; try again")
	default:
		branchJSON(w, http.StatusOK, d)
	}
}

// apiStatusList installs a signed status list carried to an offline
// counter; an older list than the one held is refused (409).
func (b *branchApp) apiStatusList(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, credential.MaxStatusBits/8+1024))
	if err != nil {
		branchError(w, http.StatusBadRequest, "status list too large")
		return
	}
	if err := b.counter.InstallStatus(raw); err != nil {
		code := http.StatusUnprocessableEntity
		if errors.Is(err, credential.ErrStatusReplay) {
			code = http.StatusConflict
		}
		branchError(w, code, credential.RefusalCode(err))
		return
	}
	branchJSON(w, http.StatusOK, b.counter.Status())
}
