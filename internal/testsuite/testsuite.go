// Package testsuite reports test suites that need a component installed on
// the machine (PostgreSQL, Chromium, the face models) and could not run.
//
// `go test ./...` prints only "ok" for a passing package, so a suite that
// skipped because its component is missing used to pass silently, and the
// test cache kept that result after the component was installed.
// Unavailable fixes both:
//
//   - Under CI=true it fails the test: CI must never pass by skipping.
//   - Otherwise it skips, and prints one line per suite and test binary,
//     "SKIPPED SUITE <suite> in <package>: <reason>", on the test output
//     (seen with -v, on failure, and when go test runs in the package's
//     directory) and on the controlling terminal, if there is one, so an
//     interactive `go test ./...` shows it too.
//   - It keeps the package's result out of the test cache: it writes the
//     file .skipped-suites at the module root (git-ignored) and the go
//     command does not cache a result that read a file modified in the
//     last two seconds. The next run tries the suite again.
package testsuite

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var printed sync.Map // suite -> struct{}

// Unavailable skips t (or fails it under CI=true) because suite cannot run
// on this machine; reason says what is missing and how to install it.
func Unavailable(t testing.TB, suite, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("the %s suite is required under CI=true but cannot run: %s", suite, reason)
	}
	if _, seen := printed.LoadOrStore(suite, struct{}{}); !seen {
		line := fmt.Sprintf("SKIPPED SUITE %s in %s: %s", suite, pkgDir(), reason)
		fmt.Println(line)
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			fmt.Fprintln(tty, "madoguchi test: "+line)
			tty.Close()
		}
		uncache(line)
	}
	t.Skip("SKIPPED SUITE " + suite + ": " + reason)
}

// pkgDir is the package directory relative to the module root (go test
// runs a package's tests in its directory).
func pkgDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "?"
	}
	if root, ok := moduleRoot(wd); ok {
		if rel, err := filepath.Rel(root, wd); err == nil {
			return "./" + filepath.ToSlash(rel)
		}
	}
	return wd
}

func moduleRoot(dir string) (string, bool) {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// uncache writes (and so opens) a file inside the module: the go command
// refuses to cache a test result that depends on a file changed within the
// last two seconds.
func uncache(line string) {
	wd, err := os.Getwd()
	if err != nil {
		return
	}
	root, ok := moduleRoot(wd)
	if !ok {
		return
	}
	_ = os.WriteFile(filepath.Join(root, ".skipped-suites"), []byte(strings.TrimSpace(line)+"\n"), 0o644)
}
