package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/madoguchi/madoguchi/store"
)

// Settings come from flags, with MADOGUCHI_* environment variables as
// defaults: a flag given on the command line wins over the environment,
// which wins over the built-in default. Every setting is listed by -h.

// envString registers a string flag whose default comes from the environment.
func envString(fs *flag.FlagSet, e *env, p *string, name, envName, def, usage string) {
	if v := e.getenv(envName); v != "" {
		def = v
	}
	fs.StringVar(p, name, def, usage+" (env "+envName+")")
}

func envFloat(fs *flag.FlagSet, e *env, p *float64, name, envName string, def float64, usage string) error {
	if v := e.getenv(envName); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return usageError{fmt.Sprintf("%s=%q is not a number", envName, v)}
		}
		def = f
	}
	fs.Float64Var(p, name, def, usage+" (env "+envName+")")
	return nil
}

func envInt(fs *flag.FlagSet, e *env, p *int, name, envName string, def int, usage string) error {
	if v := e.getenv(envName); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return usageError{fmt.Sprintf("%s=%q is not an integer", envName, v)}
		}
		def = n
	}
	fs.IntVar(p, name, def, usage+" (env "+envName+")")
	return nil
}

// defaultDataDir is where everything lives when nothing is configured.
const defaultDataDir = "./madoguchi-data"

// dataFlags are the flags every command that touches the store shares.
type dataFlags struct {
	data string
	db   string
	// A transit KMS (OpenBao/Vault transit API) holds the KEK instead of
	// <data>/keys/kek.json when kmsAddr is set. The token comes only from
	// the environment, never a flag (flags show in process listings).
	kmsAddr  string
	kmsMount string
	kmsKey   string
	kmsToken string
	// credentialKey is the offline credential's issuer key: a PEM file
	// path, or a PKCS#11 URI of a key in an HSM ("": the file
	// <data>/keys/credential-issuer.key).
	credentialKey string
	// blobs is where blobs live (blobconfig.go).
	blobs blobFlags
}

func (d *dataFlags) register(fs *flag.FlagSet, e *env) {
	envString(fs, e, &d.data, "data", "MADOGUCHI_DATA", defaultDataDir, "data directory: SQLite database, blobs, keys, models")
	envString(fs, e, &d.db, "db", "MADOGUCHI_DB", "", "record store: a postgres:// URL, or a SQLite file path (default <data>/madoguchi.db)")
	envString(fs, e, &d.kmsAddr, "kms-address", "MADOGUCHI_KMS_ADDRESS", "", "transit KMS address (OpenBao/Vault transit API); when set the KEK lives there, authenticated by MADOGUCHI_KMS_TOKEN")
	envString(fs, e, &d.kmsMount, "kms-mount", "MADOGUCHI_KMS_MOUNT", "transit", "transit KMS mount path")
	envString(fs, e, &d.kmsKey, "kms-key", "MADOGUCHI_KMS_KEY", "madoguchi-kek", "transit KMS key name")
	envString(fs, e, &d.credentialKey, "credential-issuer-key", "MADOGUCHI_CREDENTIAL_ISSUER_KEY", "", "offline credential issuer key (ES256): a PEM file, or a PKCS#11 URI pkcs11:token=…;object=…?module-path=…&pin-source=file:… of a key in an HSM (default <data>/keys/credential-issuer.key)")
	d.kmsToken = e.getenv("MADOGUCHI_KMS_TOKEN")
	d.blobs.register(fs, e)
}

// dsn returns the store's data source name.
func (d *dataFlags) dsn() string {
	if d.db != "" {
		return d.db
	}
	return filepath.Join(d.data, "madoguchi.db")
}

// ensureDataDir creates the data directory with owner-only permissions.
func (d *dataFlags) ensureDataDir() error {
	if err := os.MkdirAll(d.data, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	return nil
}

// openStore opens the record store and checks its schema; with migrate it
// first applies pending migrations.
func (d *dataFlags) openStore(ctx context.Context, migrate bool) (*store.DB, error) {
	if err := d.ensureDataDir(); err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, d.dsn())
	if err != nil {
		return nil, err
	}
	if migrate {
		if _, err := db.Migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	if _, err := db.CheckSchema(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (run 'madoguchi migrate')", err)
	}
	return db, nil
}

// newLogger builds the process logger: JSON lines (or text) at the level.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("log level %q: want debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "json", "":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Sprintf("log format %q: want json or text", format)}
}

// readCapped reads a file of at most limit bytes (key files, checkpoints,
// policies, certificates, JWKS, JPKI CRLs: everything an operator command
// or the server's wiring reads).
func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}

// readPolicyFile reads a policy document of at most limit bytes from file
// and parses it (ekyc.ParsePolicy, fraud.ParsePolicy); a parse error names
// the file.
func readPolicyFile[P any](file string, limit int64, parse func([]byte) (P, error)) (P, error) {
	b, err := readCapped(file, limit)
	if err != nil {
		var zero P
		return zero, err
	}
	p, err := parse(b)
	if err != nil {
		return p, fmt.Errorf("%s: %w", file, err)
	}
	return p, nil
}
