// Package weedtest starts a real S3-compatible object store for tests:
// SeaweedFS's `weed server` (master, volume, filer and S3 gateway in one
// process) on loopback, with SigV4 credentials configured, so the S3 client
// is tested against a server nobody here wrote.
//
// The binary is built from the Go module proxy by tools/seaweedfs/install.sh
// (which .ci/run calls) into the user cache; MADOGUCHI_WEED names another
// path. Without it a test is skipped with a message saying how to install
// it, and under CI=true it fails: the suite must not silently stop running.
package weedtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Version is the SeaweedFS module version tools/seaweedfs/install.sh builds.
const Version = "v0.0.0-20261109003541-7506e5f91cd6"

// EnvBinary names the environment variable that may point at a weed binary.
const EnvBinary = "MADOGUCHI_WEED"

// ErrMissing: no weed binary is installed.
var ErrMissing = errors.New("weedtest: SeaweedFS weed binary not installed (run tools/seaweedfs/install.sh)")

// Binary returns the weed binary's path, or ErrMissing.
func Binary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: %s=%s: %v", ErrMissing, EnvBinary, p, err)
		}
		return p, nil
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrMissing, err)
		}
		cache = filepath.Join(home, ".cache")
	}
	p := filepath.Join(cache, "madoguchi", "seaweedfs-"+Version, "weed")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%w: %s", ErrMissing, p)
	}
	return p, nil
}

// Require returns the binary's path; without one it fails the test under
// CI=true and otherwise skips it, saying so on stderr as well so that a
// plain `go test ./...` shows what did not run.
func Require(t testing.TB) string {
	t.Helper()
	p, err := Binary()
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%v: under CI the object-store tests must run", err)
	}
	fmt.Fprintf(os.Stderr, "SKIP %s: %v\n", t.Name(), err)
	t.Skipf("%v", err)
	return ""
}

// Server is a running SeaweedFS with an S3 gateway and one bucket.
type Server struct {
	Endpoint        string // http://127.0.0.1:PORT
	Region          string
	Bucket          string
	AccessKeyID     string
	SecretAccessKey string

	cmd  *exec.Cmd
	done chan struct{}
	out  logWriter
	mu   sync.Mutex
	logs bytes.Buffer
}

// Start starts a server with data under a temporary directory and stops it
// when the test ends. It calls Require.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Require(t)
	s, err := StartProcess(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartProcess starts `weed server` with data in dir and waits until the
// bucket exists and accepts signed writes (up to two minutes on a loaded
// machine). The caller must Stop it.
func StartProcess(bin, dir string) (*Server, error) {
	ports, err := freePorts(8)
	if err != nil {
		return nil, err
	}
	s := &Server{
		Region: "us-east-1", Bucket: "madoguchi-test",
		AccessKeyID: "MDG" + randHex(8), SecretAccessKey: randHex(20),
		done: make(chan struct{}),
	}
	cfg, _ := json.Marshal(map[string]any{"identities": []any{map[string]any{
		"name":        "madoguchi",
		"credentials": []any{map[string]string{"accessKey": s.AccessKeyID, "secretKey": s.SecretAccessKey}},
		"actions":     []string{"Admin", "Read", "Write", "List", "Tagging"},
	}}})
	cfgPath := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	s.Endpoint = "http://127.0.0.1:" + p(0)
	s.cmd = exec.Command(bin, "server", "-dir="+data, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port="+p(1), "-master.port.grpc="+p(2),
		"-volume.port="+p(3), "-volume.port.grpc="+p(4),
		"-filer.port="+p(5), "-filer.port.grpc="+p(6),
		"-s3", "-s3.port="+p(0), "-s3.port.grpc="+p(7), "-s3.config="+cfgPath,
		"-master.volumeSizeLimitMB=64", "-volume.max=8")
	s.out.s = s
	s.cmd.Stdout = &s.out
	s.cmd.Stderr = &s.out
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("weedtest: start %s: %w", bin, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	if err := s.waitReady(2 * time.Minute); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%w\n%s", err, s.Logs())
	}
	return s, nil
}

// URL is the bucket as MADOGUCHI_TEST_S3 and serve --blobs spell it
// (without credentials).
func (s *Server) URL() string { return s.Endpoint + "/" + s.Bucket + "?region=" + s.Region }

// Logs returns what the server printed (for failure messages).
func (s *Server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.logs.Bytes()
	if len(b) > 8<<10 {
		b = b[len(b)-8<<10:]
	}
	return string(b)
}

// Stop terminates the server and waits for it.
func (s *Server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// logWriter collects the server's output.
type logWriter struct{ s *Server }

func (w *logWriter) Write(b []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.logs.Write(b)
}

func (s *Server) waitReady(within time.Duration) error {
	deadline := time.Now().Add(within)
	c := &http.Client{Timeout: 5 * time.Second}
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return errors.New("weedtest: weed exited before it was ready")
		default:
		}
		if last = s.createBucket(c); last == nil {
			if last = s.probe(c); last == nil {
				return nil
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("weedtest: not ready after %v: %v", within, last)
}

func (s *Server) createBucket(c *http.Client) error {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPut, s.Endpoint+"/"+s.Bucket, nil)
	sign(req, emptyHash, s.AccessKeyID, s.SecretAccessKey, s.Region, time.Now())
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusConflict { // BucketAlreadyOwnedByYou
		return nil
	}
	return fmt.Errorf("create bucket: HTTP %d", resp.StatusCode)
}

// probe writes, reads and deletes one object: the volume server has
// registered with the master and the gateway can store data.
func (s *Server) probe(c *http.Client) error {
	body := []byte("probe")
	u := s.Endpoint + "/" + s.Bucket + "/weedtest-probe"
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPut, u, bytes.NewReader(body))
	sign(req, hashHex(body), s.AccessKeyID, s.SecretAccessKey, s.Region, time.Now())
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("probe put: HTTP %d", resp.StatusCode)
	}
	req, _ = http.NewRequestWithContext(context.Background(), http.MethodDelete, u, nil)
	sign(req, emptyHash, s.AccessKeyID, s.SecretAccessKey, s.Region, time.Now())
	if resp, err = c.Do(req); err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func freePorts(n int) ([]int, error) {
	var out []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for len(out) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
