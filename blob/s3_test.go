package blob

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSignV4KnownAnswer checks the signer against the GET Object example of
// the AWS Signature Version 4 documentation for S3 (bucket examplebucket,
// key test.txt, Range: bytes=0-9, 2013-05-24).
func TestSignV4KnownAnswer(t *testing.T) {
	req, _ := http.NewRequest("GET", "https://examplebucket.s3.amazonaws.com/test.txt", nil)
	req.Header.Set("Range", "bytes=0-9")
	signV4(req, emptySHA256, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "", "us-east-1", "s3",
		time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC))
	want := "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
		"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, " +
		"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
	if got := req.Header.Get("Authorization"); got != want {
		t.Errorf("signV4(AWS example) Authorization =\n%s\nwant\n%s", got, want)
	}
}

// fakeS3 is a path-style S3 object store that verifies every request's
// SigV4 signature with its own implementation of the algorithm (written from
// the specification, independent of signV4) and the payload hash.
type fakeS3 struct {
	t       testing.TB
	akid    string
	secret  string
	region  string
	mu      sync.Mutex
	objects map[string][]byte
	denied  int
}

func newFakeS3(t testing.TB) (*fakeS3, *httptest.Server) {
	f := &fakeS3{t: t, akid: "AKIDTEST", secret: "secret/key+test", region: "ap-northeast-1", objects: map[string][]byte{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeS3) verify(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return errors.New("not SigV4")
	}
	fields := map[string]string{}
	for _, p := range strings.Split(rest, ", ") {
		k, v, _ := strings.Cut(p, "=")
		fields[k] = v
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 5 || cred[0] != f.akid || cred[2] != f.region || cred[3] != "s3" || cred[4] != "aws4_request" {
		return errors.New("bad credential scope")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	ts, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || cred[1] != amzDate[:8] {
		return errors.New("bad date")
	}
	if d := time.Since(ts); d > 15*time.Minute || d < -15*time.Minute {
		return errors.New("request time too skewed")
	}
	sum := sha256.Sum256(body)
	if r.Header.Get("X-Amz-Content-Sha256") != hex.EncodeToString(sum[:]) {
		return errors.New("payload hash mismatch")
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !sort.StringsAreSorted(signed) || !contains(signed, "host") || !contains(signed, "x-amz-date") || !contains(signed, "x-amz-content-sha256") {
		return errors.New("signed headers incomplete")
	}
	var ch strings.Builder
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		ch.WriteString(h + ":" + strings.TrimSpace(v) + "\n")
	}
	escaped := (&url.URL{Path: r.URL.Path}).EscapedPath()
	creq := r.Method + "\n" + escaped + "\n" + r.URL.RawQuery + "\n" + ch.String() + "\n" + fields["SignedHeaders"] + "\n" + r.Header.Get("X-Amz-Content-Sha256")
	h := sha256.Sum256([]byte(creq))
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + strings.Join(cred[1:], "/") + "\n" + hex.EncodeToString(h[:])
	mac := func(k []byte, s string) []byte { m := hmac.New(sha256.New, k); m.Write([]byte(s)); return m.Sum(nil) }
	k := mac(mac(mac(mac([]byte("AWS4"+f.secret), cred[1]), cred[2]), "s3"), "aws4_request")
	want := hex.EncodeToString(mac(k, sts))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return errors.New("signature mismatch")
	}
	return nil
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err := f.verify(r, body); err != nil {
		f.mu.Lock()
		f.denied++
		f.mu.Unlock()
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "<Error><Code>SignatureDoesNotMatch</Code><Message>"+err.Error()+"</Message></Error>")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := r.URL.Path
	switch r.Method {
	case http.MethodPut:
		f.objects[key] = body
	case http.MethodGet, http.MethodHead:
		b, ok := f.objects[key]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Length", itoa(len(b)))
		if r.Method == http.MethodGet {
			w.Write(b)
		}
	case http.MethodDelete:
		delete(f.objects, key)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func newS3(t testing.TB, srv *httptest.Server, f *fakeS3) *S3 {
	s, err := NewS3(S3Config{Endpoint: srv.URL, Region: f.region, Bucket: "madoguchi-blobs", Prefix: "prod/",
		AccessKeyID: f.akid, SecretAccessKey: f.secret, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3WrongSecretIsRefused(t *testing.T) {
	f, srv := newFakeS3(t)
	s, _ := NewS3(S3Config{Endpoint: srv.URL, Region: f.region, Bucket: "b", AccessKeyID: f.akid, SecretAccessKey: "wrong", HTTPClient: srv.Client()})
	err := s.Put(t.Context(), RefOf([]byte("x")), []byte("x"))
	var se *S3Error
	if !errors.As(err, &se) || se.Status != 403 || se.Code != "SignatureDoesNotMatch" {
		t.Errorf("Put with a wrong secret = %v, want S3Error 403 SignatureDoesNotMatch", err)
	}
	// The fake really checks: a correct client is accepted.
	good := newS3(t, srv, f)
	if err := good.Put(t.Context(), RefOf([]byte("x")), []byte("x")); err != nil {
		t.Errorf("Put with the right secret = %v", err)
	}
}

func TestNewS3Refuses(t *testing.T) {
	ok := S3Config{Endpoint: "https://s3.example", Region: "r", Bucket: "b", AccessKeyID: "a", SecretAccessKey: "s"}
	mut := []func(*S3Config){
		func(c *S3Config) { c.Endpoint = "ftp://x" },
		func(c *S3Config) { c.Endpoint = "https://x/path" },
		func(c *S3Config) { c.Endpoint = "https://a:b@x" },
		func(c *S3Config) { c.Region = "" },
		func(c *S3Config) { c.Bucket = "a/b" },
		func(c *S3Config) { c.SecretAccessKey = "" },
		func(c *S3Config) { c.Prefix = "../x" },
	}
	if _, err := NewS3(ok); err != nil {
		t.Fatalf("NewS3(valid) = %v", err)
	}
	for i, m := range mut {
		c := ok
		m(&c)
		if _, err := NewS3(c); err == nil {
			t.Errorf("NewS3(mutation %d) = nil error", i)
		}
	}
	s, _ := NewS3(ok)
	if got := s.LogValue().String(); strings.Contains(got, "s3cr") || strings.Contains(got, ok.SecretAccessKey+"]") {
		t.Errorf("S3 LogValue leaks credentials: %s", got)
	}
}
