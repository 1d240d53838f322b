package blob

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// S3Config configures the S3-compatible backend. Requests are path-style
// (<endpoint>/<bucket>/<prefix><ab/cd/hex>), which MinIO, Ceph RGW, Garage
// and AWS accept, and signed with AWS Signature Version 4 (service "s3").
type S3Config struct {
	Endpoint        string // scheme://host[:port], no path
	Region          string // e.g. "ap-northeast-1"; "us-east-1" for most self-hosted stores
	Bucket          string
	Prefix          string // optional key prefix, e.g. "madoguchi/"
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string       // optional (temporary credentials)
	HTTPClient      *http.Client // default: 30 s timeout
	// Now is the clock used for signing (tests); default time.Now.
	Now func() time.Time
}

// S3 is the S3-compatible backend.
type S3 struct {
	base   *url.URL
	cfg    S3Config
	client *http.Client
	now    func() time.Time
}

var _ Backend = (*S3)(nil)

// NewS3 validates cfg and returns the backend. It makes no request.
func NewS3(cfg S3Config) (*S3, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, errors.New("blob: S3 endpoint must be http(s)://host[:port] without path, query or credentials")
	}
	u.Path = ""
	if cfg.Region == "" || cfg.Bucket == "" || cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
		return nil, errors.New("blob: S3 needs region, bucket, access key id and secret key")
	}
	if strings.ContainsAny(cfg.Bucket, "/?#") || strings.Contains(cfg.Prefix, "..") {
		return nil, errors.New("blob: S3 bucket or prefix has forbidden characters")
	}
	s := &S3{base: u, cfg: cfg, client: cfg.HTTPClient, now: cfg.Now}
	if s.client == nil {
		s.client = &http.Client{Timeout: 30 * time.Second}
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// LogValue describes the backend without credentials.
func (s *S3) LogValue() slog.Value {
	return slog.GroupValue(slog.String("backend", "s3"), slog.String("endpoint", s.base.String()),
		slog.String("bucket", s.cfg.Bucket), slog.String("prefix", s.cfg.Prefix))
}

func (s *S3) objectURL(r Ref) *url.URL {
	u := *s.base
	u.Path = "/" + s.cfg.Bucket + "/" + s.cfg.Prefix + r.key()
	return &u
}

// S3Error is a non-success answer from the object store.
type S3Error struct {
	Method string
	Status int
	Code   string // the <Code> of an S3 XML error body, if any
}

func (e *S3Error) Error() string {
	return fmt.Sprintf("blob: S3 %s: HTTP %d %s", e.Method, e.Status, e.Code)
}

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func (s *S3) do(ctx context.Context, method string, r Ref, body []byte) (*http.Response, error) {
	var rd io.Reader
	payload := emptySHA256
	if body != nil {
		rd = bytes.NewReader(body)
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
	}
	req, err := http.NewRequestWithContext(ctx, method, s.objectURL(r).String(), rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	signV4(req, payload, s.cfg.AccessKeyID, s.cfg.SecretAccessKey, s.cfg.SessionToken, s.cfg.Region, "s3", s.now())
	return s.client.Do(req)
}

func s3err(method string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	code := ""
	if i := bytes.Index(b, []byte("<Code>")); i >= 0 {
		if j := bytes.Index(b[i:], []byte("</Code>")); j > 0 {
			code = string(b[i+6 : i+j])
			if len(code) > 64 {
				code = code[:64]
			}
		}
	}
	return &S3Error{Method: method, Status: resp.StatusCode, Code: code}
}

// Put uploads the object; S3 makes a completed PUT atomic and durable.
func (s *S3) Put(ctx context.Context, r Ref, data []byte) error {
	resp, err := s.do(ctx, http.MethodPut, r, data)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return s3err("PUT", resp)
	}
	return nil
}

// Get downloads the object, refusing one over limit bytes.
func (s *S3) Get(ctx context.Context, r Ref, limit int64) ([]byte, error) {
	resp, err := s.do(ctx, http.MethodGet, r, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, ErrNotFound
	case resp.StatusCode != http.StatusOK:
		return nil, s3err("GET", resp)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, resp.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)
	}
	return b, nil
}

// Head reports whether the object exists and its size.
func (s *S3) Head(ctx context.Context, r Ref) (size int64, err error) {
	resp, err := s.do(ctx, http.MethodHead, r, nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return 0, ErrNotFound
	case resp.StatusCode != http.StatusOK:
		return 0, &S3Error{Method: "HEAD", Status: resp.StatusCode}
	}
	return resp.ContentLength, nil
}

// Delete removes the object; S3 answers 204 whether or not it existed.
func (s *S3) Delete(ctx context.Context, r Ref) error {
	resp, err := s.do(ctx, http.MethodDelete, r, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusNotFound {
		return s3err("DELETE", resp)
	}
	return nil
}

// signV4 signs req with AWS Signature Version 4 (header form). It signs the
// host and every header already set on req, plus x-amz-date,
// x-amz-content-sha256 (payloadHash) and, if token is set,
// x-amz-security-token.
func signV4(req *http.Request, payloadHash, akid, secret, token, region, service string, t time.Time) {
	t = t.UTC()
	amzDate := t.Format("20060102T150405Z")
	day := t.Format("20060102")
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if token != "" {
		req.Header.Set("X-Amz-Security-Token", token)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	canonHeaders, signed := canonicalHeaders(req.Header, host)
	creq := strings.Join([]string{
		req.Method,
		canonicalURI(req.URL),
		canonicalQuery(req.URL.Query()),
		canonHeaders,
		signed,
		payloadHash,
	}, "\n")
	scope := day + "/" + region + "/" + service + "/aws4_request"
	sum := sha256.Sum256([]byte(creq))
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	k := hmacSHA256([]byte("AWS4"+secret), day)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, "aws4_request")
	sig := hex.EncodeToString(hmacSHA256(k, sts))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+akid+"/"+scope+", SignedHeaders="+signed+", Signature="+sig)
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// canonicalHeaders returns the canonical header block (each "name:value\n",
// names lowercased and sorted, values trimmed with inner spaces collapsed)
// and the signed-headers list.
func canonicalHeaders(h http.Header, host string) (string, string) {
	vals := map[string]string{"host": host}
	for k, vs := range h {
		lk := strings.ToLower(k)
		if lk == "authorization" || lk == "user-agent" {
			continue
		}
		parts := make([]string, len(vs))
		for i, v := range vs {
			parts[i] = strings.Join(strings.Fields(v), " ")
		}
		vals[lk] = strings.Join(parts, ",")
	}
	names := make([]string, 0, len(vals))
	for k := range vals {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(':')
		b.WriteString(vals[n])
		b.WriteByte('\n')
	}
	return b.String(), strings.Join(names, ";")
}

// canonicalURI URI-encodes each path segment once (S3 rule: no double encoding).
func canonicalURI(u *url.URL) string {
	p := u.Path
	if p == "" {
		return "/"
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = uriEncode(s)
	}
	return strings.Join(segs, "/")
}

func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, uriEncode(k)+"="+uriEncode(v))
		}
	}
	return strings.Join(parts, "&")
}

// uriEncode percent-encodes everything but the RFC 3986 unreserved set.
func uriEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(strconv.FormatUint(uint64(c)|0x100, 16)[1:]))
		}
	}
	return b.String()
}
