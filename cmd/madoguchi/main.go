// Command madoguchi is the Madoguchi identity-verification hub: one binary that
// serves the APIs, the capture page and the staff portal, and carries the
// operator's tools (migrations, keys, audit verification, models, documents).
//
// main is thin: it builds an env from the process and hands it to run, so the
// same code runs under tests (testscript) with a fake environment.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// env is what a command may touch of the outside world. Commands never read
// os.Args, os.Getenv or os.Stdout directly.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// command is one subcommand. run receives the arguments after its name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands is the table of subcommands. Each lives in its own file
// (serve.go, admin.go, ...); add one line here per subcommand.
var commands = []command{
	{"version", "print the version and build information", runVersion},
	{"serve", "run the HTTP server (APIs, capture page, portal)", runServe},
	{"migrate", "apply pending database migrations, or show the schema status", runMigrate},
	{"bench", "generate HTTP load against a server, or serve a bare handler to compare", runBench},
	{"models", "install or verify the pinned face models", runModels},
	{"admin", "manage tenants, API clients, staff accounts and dual-control approvals", runAdmin},
	{"face", "analyze, compare and calibrate faces", runFace},
	{"audit", "verify the audit log, sign checkpoints, print proofs", runAudit},
	{"document", "verify identity-document chip files (ICAO passports, Japanese cards)", runDocument},
	{"trust", "import, list and check ICAO trust anchors (CSCA master lists)", runTrust},
	{"jpki", "verify JPKI (My Number card) signatures: method ワ, re-authentication", runJPKI},
	{"keys", "show, rotate, rewrap and retire the key-encryption keys", runKeys},
	{"dev", "developer tools for a development data directory (test clients, tokens)", runDev},
	{"ekyc", "legal methods and per-tenant eKYC policies", runEKYC},
	{"notify", "list webhook deliveries and replay dead letters", runNotify},
	{"oauth", "customers' OAuth consents; partner onboarding", runOAuth},
	{"branch", "the counter's offline face credential verifier (init, serve)", runBranch},
	{"hsm", "generate keys inside a PKCS#11 token (HSM) for the credential issuer and branch devices", runHSM},
	{"fraud", "fraud policies, watchlist imports (dual control) and the face gallery", runFraud},
	{"doctor", "check a deployment before it takes traffic and say what to fix", runDoctor},
}

// exitError carries a specific exit status (for example "audit verify" found
// a tampered entry) without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError marks a mistake in the command line; it exits 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and maps its error to an exit status.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		return exitCode(e, c.name, err)
	}
	fmt.Fprintf(e.stderr, "madoguchi: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return 2
}

func exitCode(e *env, name string, err error) int {
	var ee exitError
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "madoguchi %s: %s\n", name, ue.msg)
		return 2
	default:
		fmt.Fprintf(e.stderr, "madoguchi %s: %v\n", name, err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: madoguchi <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	cs := append([]command(nil), commands...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'madoguchi <command> -h' for a command's flags.")
}

// newFlagSet returns a FlagSet that reports errors instead of exiting and
// prints its usage to e.stderr.
func newFlagSet(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: madoguchi %s\n", synopsis)
		if strings.Contains(synopsis, "[flags]") || hasFlags(fs) {
			fmt.Fprintln(e.stderr, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parseFlags parses args, turning flag errors into usage errors (exit 2).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}
