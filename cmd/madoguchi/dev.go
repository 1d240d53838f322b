package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/internal/atomicfile"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
)

// devMarker is created in a data directory whose keys were generated for
// development. Developer tools require it; production mode refuses a data
// directory that has it.
const devMarker = "DEVELOPMENT"

// markDevelopment records that dir holds development keys.
func markDevelopment(dir string) error {
	p := filepath.Join(dir, devMarker)
	return os.WriteFile(p, []byte("This data directory was initialised with development keys. Never use it for real data.\n"), 0o600)
}

func isDevelopment(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, devMarker))
	return err == nil
}

// runDev holds the developer tools. They act directly on a development data
// directory and bypass dual control, so they refuse any other.
func runDev(ctx context.Context, e *env, args []string) error {
	const synopsis = "dev client [--name NAME] [--scopes a,b] [--data DIR] [--key-out FILE] [--env] | dev token [--server URL] [--client-id ID] [--key FILE] | dev chip --kind KIND --photo FILE --name NAME --birthdate YYYY-MM-DD --out DIR | dev session ... | dev jpki ... | dev portal [--tenant NAME] [--prefix P]"
	if len(args) == 0 {
		return usageError{"usage: madoguchi " + synopsis}
	}
	switch args[0] {
	case "chip":
		return devChip(ctx, e, args[1:])
	case "client":
		return devClient(ctx, e, args[1:])
	case "jpki":
		return devJPKI(ctx, e, args[1:])
	case "portal":
		return devPortal(ctx, e, args[1:])
	case "session":
		return devSession(ctx, e, args[1:])
	case "token":
		return devToken(ctx, e, args[1:])
	}
	return usageError{"usage: madoguchi " + synopsis}
}

// devClientScopes are what a development client gets unless --scopes says
// otherwise: everything a relying service and a kiosk can do.
const devClientScopes = "audit:read,ekyc:sessions,ekyc:results,ekyc:device"

func devClient(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "dev client", "dev client [--name NAME] [--scopes a,b] [--data DIR] [--key-out FILE] [--env]")
	var d dataFlags
	d.register(fs, e)
	name := fs.String("name", "Development Bank", "tenant name (unique: pass another for a second client)")
	scopes := fs.String("scopes", devClientScopes, "comma-separated scopes for the client")
	keyOut := fs.String("key-out", "", "where to write the client's private key (PEM, 0600; default <data>/dev-clients/<client id>.pem)")
	envOut := fs.Bool("env", false, "print export lines for MADOGUCHI_CLIENT_ID and MADOGUCHI_CLIENT_KEY (for eval) instead of JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"dev client takes no arguments"}
	}
	if !isDevelopment(d.data) {
		return fmt.Errorf("%s is not a development data directory (no %s marker; start 'madoguchi serve' once first): use 'madoguchi admin' with dual control", d.data, devMarker)
	}
	a, err := openApp(ctx, modeDevelopment, d, slog.New(slog.DiscardHandler), true)
	if err != nil {
		return err
	}
	defer a.Close()
	policy, calibrated, err := devExamplePolicy(d)
	if err != nil {
		return err
	}
	note := "the tenant has the example eKYC policy (methods he)"
	if !calibrated {
		note += "; no face calibration: face matches are referred to a reviewer"
	}
	op := tenant.Actor{Kind: "system", ID: "dev-client", OSUser: osUser()}
	ten, err := a.tenants.CreateTenant(ctx, op, *name)
	if errors.Is(err, tenant.ErrConflict) {
		return fmt.Errorf("a tenant named %q already exists in %s: pass --name with another name for another client", *name, d.data)
	}
	if err != nil {
		return err
	}
	ver, err := ekyc.StorePolicy(ctx, a.db, a.audit, ekyc.Actor{Kind: "system", ID: "dev-client"}, ten.ID, policy, time.Now())
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	jwks, err := publicJWKS("dev-1", key)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	var sc []string
	for _, s := range strings.Split(*scopes, ",") {
		if s = strings.TrimSpace(s); s != "" {
			sc = append(sc, s)
		}
	}
	var cl tenant.Client
	err = a.db.InTx(ctx, func(tx *store.Tx) error {
		cl, err = a.tenants.CreateClientTx(ctx, tx, op, ten.ID, tenant.ClientSpec{Name: *name + " (dev)", Scopes: sc, JWKS: jwks})
		return err
	})
	if err != nil {
		return err
	}
	if *keyOut == "" {
		dir := filepath.Join(d.data, "dev-clients")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		*keyOut = filepath.Join(dir, cl.ID+".pem")
	}
	if err := atomicfile.Write(*keyOut, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	if *envOut {
		fmt.Fprintf(e.stdout, "export MADOGUCHI_CLIENT_ID=%s MADOGUCHI_CLIENT_KEY=%s MADOGUCHI_TENANT_ID=%s\n", shellQuote(cl.ID), shellQuote(*keyOut), shellQuote(ten.ID))
		fmt.Fprintln(e.stderr, note)
		return nil
	}
	return json.NewEncoder(e.stdout).Encode(map[string]any{"tenant_id": ten.ID, "client_id": cl.ID, "kid": "dev-1", "key_file": *keyOut,
		"scopes": cl.Scopes, "policy_version": ver, "note": note})
}

// devExamplePolicy is the example eKYC policy for development tenants:
// the face-match threshold and FMR of <data>/face-calibration.json if there
// is one, otherwise 0.5 (and every face match is referred to a reviewer, as
// the engine has no calibration).
func devExamplePolicy(d dataFlags) (p ekyc.Policy, calibrated bool, err error) {
	p = ekyc.ExamplePolicy(0.5)
	calibrated, err = applyDevCalibration(d, &p)
	return p, calibrated, err
}

// applyDevCalibration sets p's face-match threshold and FMR from
// <data>/face-calibration.json; calibrated is false, and p unchanged, when
// there is no such file. A file that cannot be read or parsed is an error.
func applyDevCalibration(d dataFlags, p *ekyc.Policy) (calibrated bool, err error) {
	fh, err := os.Open(filepath.Join(d.data, "face-calibration.json"))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer fh.Close()
	cal, err := face.ReadCalibration(fh)
	if err != nil {
		return false, fmt.Errorf("face-calibration.json: %w", err)
	}
	p.FaceMatch.Threshold, p.FaceMatch.TargetFMR = cal.Threshold, cal.TargetFMR
	return true, nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func devToken(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "dev token", "dev token [--server URL] [--audience URL] [--client-id ID] [--key FILE]")
	server := fs.String("server", "http://127.0.0.1:8080", "server URL")
	aud := fs.String("audience", "", "the server's public URL, if it differs from --server")
	var clientID, keyFile string
	envString(fs, e, &clientID, "client-id", "MADOGUCHI_CLIENT_ID", "", "client id")
	envString(fs, e, &keyFile, "key", "MADOGUCHI_CLIENT_KEY", "", "client private key (PEM)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := loadAPIClient(*server, *aud, clientID, keyFile)
	if err != nil {
		return err
	}
	if err := c.fetchToken(ctx); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, c.token)
	return nil
}

// loadAPIClient builds an API client from a PEM private key file.
func loadAPIClient(server, audience, clientID, keyFile string) (*apiClient, error) {
	if clientID == "" || keyFile == "" {
		return nil, usageError{"need --client-id and --key (or MADOGUCHI_CLIENT_ID and MADOGUCHI_CLIENT_KEY: eval \"$(madoguchi dev client --env)\")"}
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("key file: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("key file: want a P-256 ECDSA key")
	}
	server = strings.TrimRight(server, "/")
	if audience == "" {
		audience = server
	}
	return &apiClient{base: server, audience: audience, clientID: clientID, kid: "dev-1", key: ek}, nil
}

// osUser names the operating-system user running a tool, for audit details.
func osUser() string {
	for _, k := range []string{"USER", "LOGNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return fmt.Sprintf("uid:%d", os.Getuid())
}
