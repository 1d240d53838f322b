package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// runBench holds the HTTP benchmark tools: "bench http" generates load from
// its own process against a URL; "bench bare" serves a bare net/http handler
// to compare against in the same run. docs/benchmarks.md shows how they are
// combined (bench/http.sh).
func runBench(ctx context.Context, e *env, args []string) error {
	const synopsis = "bench http --url URL [--token T] [--conns N] [--duration D] | bench bare --addr ADDR | bench ekyc --server URL --method he|ho ..."
	if len(args) == 0 {
		return usageError{"usage: madoguchi " + synopsis}
	}
	switch args[0] {
	case "http":
		return benchHTTP(ctx, e, args[1:])
	case "ekyc":
		return benchEKYC(ctx, e, args[1:])
	case "bare":
		fs := newFlagSet(e, "bench bare", "bench bare --addr ADDR")
		addr := fs.String("addr", "127.0.0.1:18081", "listen address")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		return benchBare(ctx, e, *addr)
	}
	return usageError{"usage: madoguchi " + synopsis}
}

// benchBare serves a minimal JSON handler with the same server timeouts.
func benchBare(ctx context.Context, e *env, addr string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/whoami", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"tenant_id":"t","client_id":"c","scopes":[]}`+"\n")
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(e.stdout, "bare server on %s\n", ln.Addr())
	go func() { <-ctx.Done(); hs.Close() }()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type benchResult struct {
	URL      string  `json:"url"`
	Conns    int     `json:"conns"`
	Seconds  float64 `json:"seconds"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	Non2xx   int     `json:"non_2xx"`
	RPS      float64 `json:"rps"`
	P50ms    float64 `json:"p50_ms"`
	P90ms    float64 `json:"p90_ms"`
	P99ms    float64 `json:"p99_ms"`
	Maxms    float64 `json:"max_ms"`
}

func benchHTTP(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "bench http", "bench http --url URL [--token T] [--conns N] [--duration D]")
	url := fs.String("url", "", "URL to GET")
	token := fs.String("token", "", "bearer token to send")
	conns := fs.Int("conns", 16, "concurrent connections")
	dur := fs.Duration("duration", 10*time.Second, "how long to generate load")
	maxReq := fs.Int("max-requests", 5_000_000, "stop after this many requests in total")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *url == "" || *conns < 1 || *conns > 1024 || *dur <= 0 || *dur > 10*time.Minute {
		return usageError{"bench http needs --url, 1 <= --conns <= 1024 and 0 < --duration <= 10m"}
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, *dur)
	defer cancel()

	var (
		mu       sync.Mutex
		lat      []time.Duration
		errs     int
		non2xx   int
		budget   = *maxReq
		wg       sync.WaitGroup
		startAll = time.Now()
	)
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			var le, ln int
			for ctx.Err() == nil {
				mu.Lock()
				if budget == 0 {
					mu.Unlock()
					break
				}
				budget--
				mu.Unlock()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
				if *token != "" {
					req.Header.Set("Authorization", "Bearer "+*token)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						le++
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				local = append(local, time.Since(t0))
				if resp.StatusCode/100 != 2 {
					ln++
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			errs += le
			non2xx += ln
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(startAll).Seconds()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(float64(len(lat)-1) * p)
		return float64(lat[i].Microseconds()) / 1000
	}
	res := benchResult{URL: *url, Conns: *conns, Seconds: elapsed, Requests: len(lat), Errors: errs, Non2xx: non2xx,
		RPS: float64(len(lat)) / elapsed, P50ms: pct(0.50), P90ms: pct(0.90), P99ms: pct(0.99), Maxms: pct(1)}
	enc := json.NewEncoder(e.stdout)
	return enc.Encode(res)
}
