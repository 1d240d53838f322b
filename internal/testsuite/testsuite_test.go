package testsuite

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnavailableReportsAndFailsUnderCI runs a child test binary (this one)
// twice: without CI it skips and prints the SKIPPED SUITE line; with
// CI=true the same call fails.
func TestUnavailableReportsAndFailsUnderCI(t *testing.T) {
	if os.Getenv("TESTSUITE_CHILD") == "1" {
		Unavailable(t, "example", "no example component (install it with apt-get install example)")
		return
	}
	for _, ci := range []string{"", "true"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestUnavailableReportsAndFailsUnderCI$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTSUITE_CHILD=1", "CI="+ci)
		out, err := cmd.CombinedOutput()
		switch ci {
		case "":
			if err != nil || !strings.Contains(string(out), "SKIPPED SUITE example in ./internal/testsuite: no example component") || !strings.Contains(string(out), "--- SKIP") {
				t.Errorf("without CI: err %v, output:\n%s", err, out)
			}
		case "true":
			if err == nil || !strings.Contains(string(out), "required under CI=true") {
				t.Errorf("with CI=true: err %v, output:\n%s", err, out)
			}
		}
	}
	wd, _ := os.Getwd()
	root, ok := moduleRoot(wd)
	if !ok {
		t.Fatal("no module root")
	}
	if b, err := os.ReadFile(filepath.Join(root, ".skipped-suites")); err != nil || !strings.Contains(string(b), "SKIPPED SUITE example") {
		t.Errorf(".skipped-suites = %q, %v", b, err)
	}
}
