package web

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"
)

// metrics keeps request counters and latency histograms per route and status
// class, exposed in the Prometheus text format. Labels are bounded: routes
// are ServeMux patterns, statuses are exact codes from a small set.
type metrics struct {
	mu       sync.Mutex
	requests map[metricKey]*histogram
	gauges   []gauge
	writers  []func(io.Writer)
}

// addWriter registers a writer of extra metrics, called at scrape time.
func (m *metrics) addWriter(fn func(io.Writer)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writers = append(m.writers, fn)
}

type metricKey struct {
	route  string
	status int
}

type gauge struct {
	name, help string
	fn         func() float64
	kind       string // "gauge" or "counter"
}

// latency buckets in seconds.
var buckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts []uint64 // per bucket, cumulative computed at render
	count  uint64
	sum    float64
}

func newMetrics() *metrics {
	return &metrics{requests: map[metricKey]*histogram{}}
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	if status == 0 {
		status = http.StatusOK
	}
	secs := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	k := metricKey{route, status}
	h := m.requests[k]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(buckets))}
		m.requests[k] = h
	}
	for i, b := range buckets {
		if secs <= b {
			h.counts[i]++
			break
		}
	}
	h.count++
	h.sum += secs
}

// addCounter registers a monotonically increasing total sampled at scrape
// time.
func (m *metrics) addCounter(name, help string, fn func() float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gauges = append(m.gauges, gauge{name, help, fn, "counter"})
}

// addGauge registers a gauge sampled at scrape time.
func (m *metrics) addGauge(name, help string, fn func() float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gauges = append(m.gauges, gauge{name, help, fn, "gauge"})
}

func (m *metrics) write(w io.Writer) {
	m.mu.Lock()
	keys := make([]metricKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].route != keys[j].route {
			return keys[i].route < keys[j].route
		}
		return keys[i].status < keys[j].status
	})
	fmt.Fprintln(w, "# HELP madoguchi_http_request_duration_seconds HTTP request latency by route and status.")
	fmt.Fprintln(w, "# TYPE madoguchi_http_request_duration_seconds histogram")
	for _, k := range keys {
		h := m.requests[k]
		labels := fmt.Sprintf("route=%s,code=\"%d\"", strconv.Quote(k.route), k.status)
		var cum uint64
		for i, b := range buckets {
			cum += h.counts[i]
			fmt.Fprintf(w, "madoguchi_http_request_duration_seconds_bucket{%s,le=\"%s\"} %d\n", labels, formatFloat(b), cum)
		}
		fmt.Fprintf(w, "madoguchi_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", labels, h.count)
		fmt.Fprintf(w, "madoguchi_http_request_duration_seconds_sum{%s} %s\n", labels, formatFloat(h.sum))
		fmt.Fprintf(w, "madoguchi_http_request_duration_seconds_count{%s} %d\n", labels, h.count)
	}
	gs := append([]gauge(nil), m.gauges...)
	ws := make([]func(io.Writer), len(m.writers))
	copy(ws, m.writers)
	m.mu.Unlock()
	for _, g := range gs {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", g.name, g.help, g.name, g.kind, g.name, formatFloat(g.fn()))
	}
	for _, fn := range ws {
		fn(w)
	}
}

func formatFloat(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
