package main

// madoguchi branch: the counter's offline credential verifier.
//
//	madoguchi branch init  --data DIR --name NAME          keys + enrolment code
//	madoguchi branch init  --data DIR --name NAME --hpke-key pkcs11:…
//	                       (the device's HPKE key is a P-256 key in an HSM)
//	madoguchi branch serve --data DIR --device bdv_… --server URL --issuer-kid KID
//
// serve runs a page on the counter PC (loopback only): it reads the QR from
// the camera (frames decoded here, in Go), verifies the credential against
// the cached trust, films the live face with an active challenge, decides,
// and shows yes or no. It syncs the trust bundle and pushes its own audit
// log when the server answers, and works on its cache when it does not.

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	qr "github.com/piglig/go-qr"
	"golang.org/x/mod/sumdb/note"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/credential"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/internal/atomicfile"
	"github.com/madoguchi/madoguchi/internal/hsm"
	"github.com/madoguchi/madoguchi/internal/keyfile"
	"github.com/madoguchi/madoguchi/store"
)

func runBranch(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageError{"branch: want init or serve"}
	}
	switch args[0] {
	case "init":
		return branchInit(e, args[1:])
	case "serve":
		return branchServe(ctx, e, args[1:])
	}
	return usageError{fmt.Sprintf("branch %s: want init or serve", args[0])}
}

const (
	// The device's HPKE key: a PEM X25519 key, or (device-hpke.uri) the
	// PKCS#11 URI of a P-256 key held in an HSM; never both.
	branchHPKEURI = "device-hpke.uri"
	branchHPKEKey = "device-hpke.key"
	branchLogKey  = "device-log.key"
	branchBundle  = "bundle.json"
)

func branchInit(e *env, args []string) error {
	fs := flag.NewFlagSet("branch init", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "./madoguchi-branch", "the device's data `folder`")
	name := fs.String("name", "branch", "the log's name (letters, digits, '.', '-', '/')")
	hsmKey := fs.String("hpke-key", "", "a PKCS#11 URI (pkcs11:token=…;object=…?module-path=…&pin-source=file:…) of an ECDH P-256 key in an HSM to use as the device's HPKE key, instead of an X25519 key file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return err
	}
	for _, n := range []string{branchHPKEKey, branchHPKEURI} {
		if _, err := os.Lstat(filepath.Join(*data, n)); err == nil {
			return fmt.Errorf("%s already holds device keys", *data)
		}
	}
	var pub *ecdh.PublicKey
	if *hsmKey != "" {
		x, err := hsm.OpenKeyExchanger(*hsmKey)
		if err != nil {
			return fmt.Errorf("device HPKE key: %w", err)
		}
		pub = x.PublicKey()
		x.Close()
		if created, err := atomicfile.WriteNew(filepath.Join(*data, branchHPKEURI), []byte(*hsmKey+"\n"), 0o600); err != nil {
			return err
		} else if !created {
			return fmt.Errorf("%s already holds device keys", *data)
		}
	} else {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return err
		}
		if created, err := atomicfile.WriteNew(filepath.Join(*data, branchHPKEKey), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return err
		} else if !created {
			return fmt.Errorf("%s already holds device keys", *data)
		}
		pub = k.PublicKey()
	}
	s, skey, err := audit.GenerateSigner(rand.Reader, "madoguchi.branch/"+*name)
	if err != nil {
		return err
	}
	if _, err := atomicfile.WriteNew(filepath.Join(*data, branchLogKey), []byte(skey+"\n"), 0o600); err != nil {
		return err
	}
	code := credential.EnrolmentCode(pub, s.VerifierKey())
	fmt.Fprintf(e.stdout, "%s\n", code)
	return nil
}

// loadBranchKeys loads the device's keys. An HSM-held HPKE key is also an
// io.Closer; the caller closes it.
func loadBranchKeys(dir string) (ecdh.KeyExchanger, *audit.Signer, note.Signer, error) {
	hk, err := loadBranchHPKE(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	fail := func(err error) (ecdh.KeyExchanger, *audit.Signer, note.Signer, error) {
		if c, ok := hk.(io.Closer); ok {
			c.Close()
		}
		return nil, nil, nil, err
	}
	logSigner, err := audit.LoadSigner(filepath.Join(dir, branchLogKey))
	if err != nil {
		return fail(err)
	}
	raw, err := readCapped(filepath.Join(dir, branchLogKey), 4096)
	if err != nil {
		return fail(err)
	}
	ns, err := note.NewSigner(strings.TrimSpace(string(raw)))
	if err != nil {
		return fail(err)
	}
	return hk, logSigner, ns, nil
}

// loadBranchHPKE opens the device's HPKE key: the HSM key device-hpke.uri
// names, or the X25519 key file device-hpke.key (0600).
func loadBranchHPKE(dir string) (ecdh.KeyExchanger, error) {
	uriFile, keyFile := filepath.Join(dir, branchHPKEURI), filepath.Join(dir, branchHPKEKey)
	_, uerr := os.Lstat(uriFile)
	_, kerr := os.Lstat(keyFile)
	switch {
	case uerr == nil && kerr == nil:
		return nil, fmt.Errorf("%s holds both %s and %s: keep the one the device was enrolled with", dir, branchHPKEURI, branchHPKEKey)
	case uerr == nil:
		b, err := keyfile.Read(uriFile, hsm.MaxURILen+2)
		if err != nil {
			return nil, fmt.Errorf("device HPKE key: %w", err)
		}
		x, err := hsm.OpenKeyExchanger(strings.TrimSuffix(string(b), "\n"))
		if err != nil {
			return nil, fmt.Errorf("device HPKE key (%s): %w", branchHPKEURI, err)
		}
		return x, nil
	}
	b, err := readCapped(keyFile, 4096)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s must be mode 0600", branchHPKEKey)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("device HPKE key: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	hk, ok := k.(*ecdh.PrivateKey)
	if !ok || hk.Curve() != ecdh.X25519() {
		return nil, errors.New("device HPKE key: not X25519")
	}
	return hk, nil
}

// branchApp is a running counter.
type branchApp struct {
	log     *slog.Logger
	dir     string
	server  string
	device  string
	counter *credential.Counter
	db      *store.DB
	audit   *audit.Log
	signer  note.Signer
	client  *http.Client
	mu      sync.Mutex
	online  bool
	lastTry time.Time
	lastOK  time.Time
	lastErr string
	gate    codeGate // the page's last code, until it leaves the view
}

func branchServe(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("branch serve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var ef engineFlags
	ef.register(fs, e)
	dir := fs.String("branch-data", "./madoguchi-branch", "the device's data `folder` (keys, cache, its own log)")
	device := fs.String("device", "", "the device id the server gave at enrolment (bdv_…)")
	server := fs.String("server", "", "the server's URL (syncs when it answers)")
	kids := fs.String("issuer-kid", "", "comma-separated issuer key ids this device trusts (GET /v1/credential/issuer-keys)")
	listen := fs.String("listen", "127.0.0.1:8090", "the page's address (loopback only)")
	every := fs.Duration("sync-interval", 30*time.Second, "how often to try the server")
	var mode string
	envString(fs, e, &mode, "mode", "MADOGUCHI_MODE", modeDevelopment, "development (starts without usable trust, refusing every credential) or production (refuses to start without it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *device == "" || *kids == "" {
		return usageError{"branch serve: --device and --issuer-kid are required"}
	}
	if mode != modeDevelopment && mode != modeProduction {
		return usageError{fmt.Sprintf("branch serve: mode %q: want %s or %s", mode, modeDevelopment, modeProduction)}
	}
	if mode == modeProduction && *server == "" {
		return usageError{"branch serve: production mode needs --server (the status list must be refreshed)"}
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil || !(host == "127.0.0.1" || host == "::1" || host == "localhost") {
		return usageError{"branch serve: --listen must be a loopback address"}
	}
	hk, logSigner, ns, err := loadBranchKeys(*dir)
	if err != nil {
		return err
	}
	if c, ok := hk.(io.Closer); ok {
		defer c.Close()
	}
	db, err := store.Open(ctx, filepath.Join(*dir, "branch.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	lg, err := audit.New(db, logSigner)
	if err != nil {
		return err
	}
	eng, err := loadEngine(&ef)
	if err != nil {
		return fmt.Errorf("face engine: %w", err)
	}
	counter, err := credential.NewCounter(credential.CounterConfig{Device: *device, DeviceKey: hk, IssuerKids: strings.Split(*kids, ","),
		Engine: engineBytes{eng}, DB: db, Log: lg})
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	b := &branchApp{log: log, dir: *dir, server: strings.TrimRight(*server, "/"), device: *device, counter: counter, db: db, audit: lg,
		signer: ns, client: &http.Client{Timeout: 10 * time.Second}}
	if err := b.startTrust(ctx, mode == modeProduction); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "branch verifier on http://%s/\n", ln.Addr())
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go b.syncLoop(ctx, *every)
	srv := &http.Server{Handler: b.routes(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 2 * time.Minute, IdleTimeout: time.Minute}
	go func() {
		<-ctx.Done()
		sc, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sc)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startTrust gives the counter its trust before the page opens: the cached
// bundle, then, if that is not usable, one sync with the server. It fails
// closed in production: a cached bundle that does not verify, or no usable
// trust at all (no status list, an expired one, no branch key, no policy
// for the engine's model), is a start-up error. In development the counter
// starts anyway and refuses every credential until it has trust (the page
// shows why).
func (b *branchApp) startTrust(ctx context.Context, production bool) error {
	raw, err := readCapped(filepath.Join(b.dir, branchBundle), 16<<20)
	switch {
	case err == nil:
		var bd credential.Bundle
		if err = json.Unmarshal(raw, &bd); err == nil {
			err = b.counter.Install(&bd)
		}
		if err != nil && production {
			return fmt.Errorf("production mode: the cached trust bundle %s is refused: %w", branchBundle, err)
		} else if err != nil {
			b.log.Warn("cached trust bundle refused", "err", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("cached trust bundle: %w", err)
	}
	if !b.counter.Status().Ready {
		b.syncOnce(ctx)
	}
	st := b.counter.Status()
	if st.Ready {
		return nil
	}
	why := "no status list"
	switch {
	case st.Tenant != "" && !st.StatusValid:
		why = "the status list has expired"
	case st.PolicyError != "":
		why = "no branch policy: " + st.PolicyError
	case st.Tenant != "":
		why = "no branch policy for the model " + st.Model
	}
	b.mu.Lock()
	last := b.lastErr
	b.mu.Unlock()
	if last != "" {
		why += " (server: " + last + ")"
	}
	if production {
		return fmt.Errorf("production mode: the counter has no usable trust: %s; connect it to the server and start again", why)
	}
	b.log.Warn("DEVELOPMENT: the counter starts without usable trust and refuses every credential", "why", why)
	return nil
}

// engineBytes adapts *face.Engine to credential.BranchEngine.
type engineBytes struct{ e *face.Engine }

func (b engineBytes) Model() string { return b.e.Model() }

func (b engineBytes) AnalyzeImage(ctx context.Context, img []byte) ([]face.Face, error) {
	fs, _, err := b.e.AnalyzeBytes(ctx, img)
	return fs, err
}

func (b *branchApp) signedRequest() string {
	msg, err := note.Sign(&note.Note{Text: credential.DeviceRequest(b.device, time.Now())}, b.signer)
	if err != nil {
		return ""
	}
	return string(msg)
}

func (b *branchApp) syncLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		b.syncOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (b *branchApp) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.server+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", path, resp.StatusCode)
	}
	return json.Unmarshal(raw, out)
}

// syncOnce fetches the trust bundle and pushes the device's log.
func (b *branchApp) syncOnce(ctx context.Context) {
	if b.server == "" {
		return
	}
	err := func() error {
		var bd credential.Bundle
		if err := b.post(ctx, "/v1/credential/branch/bundle", map[string]string{"request": b.signedRequest()}, &bd); err != nil {
			return err
		}
		if err := b.counter.Install(&bd); err != nil {
			return fmt.Errorf("bundle refused: %w", err)
		}
		raw, _ := json.Marshal(&bd)
		if err := atomicfile.Write(filepath.Join(b.dir, branchBundle), raw, 0o600); err != nil {
			return err
		}
		return b.pushLog(ctx, bd.LogSize)
	}()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lastTry = time.Now()
	b.online = err == nil
	if err != nil {
		b.lastErr = err.Error()
		b.log.Warn("branch sync failed; working offline on the cache", "err", err)
	} else {
		b.lastOK, b.lastErr = b.lastTry, ""
	}
}

func (b *branchApp) pushLog(ctx context.Context, have uint64) error {
	size, err := b.audit.Size(ctx)
	if err != nil || size <= have {
		return err
	}
	for have < size {
		n := min(size-have, credential.MaxSyncLeaves)
		cp, err := b.audit.CheckpointAt(ctx, have+n)
		if err != nil {
			return err
		}
		leaves := make([][]byte, 0, n)
		for i := have; i < have+n; i++ {
			_, leaf, err := b.audit.Entry(ctx, i)
			if err != nil {
				return err
			}
			leaves = append(leaves, leaf)
		}
		var out struct {
			LogSize uint64 `json:"log_size"`
		}
		if err := b.post(ctx, "/v1/credential/branch/log", map[string]any{"request": b.signedRequest(), "checkpoint": string(cp), "leaves": leaves}, &out); err != nil {
			return err
		}
		have = out.LogSize
	}
	return nil
}

// decodeQRFrame finds a credential QR in a camera frame.
func decodeQRFrame(img []byte) (string, error) {
	if len(img) > ekyc.MaxImageBytes {
		return "", errors.New("frame too large")
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(img))
	if err != nil || cfg.Width > ekyc.MaxImageSide || cfg.Height > ekyc.MaxImageSide {
		return "", errors.New("not a JPEG or PNG frame within the size limits")
	}
	m, _, err := image.Decode(bytes.NewReader(img))
	if err != nil {
		return "", err
	}
	return qr.Decode(m)
}
