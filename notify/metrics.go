package notify

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"
)

// metrics: enqueue→delivered latency per event kind and failed attempts,
// in the Prometheus text format (WriteMetrics). Kinds are a small set
// chosen by the code, never by input.
type metrics struct {
	mu     sync.Mutex
	hist   map[string]*hist
	failed map[string]uint64
}

type hist struct {
	counts []uint64
	count  uint64
	sum    float64
}

// latency buckets in seconds: sub-second first tries up to hours of retries.
var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400}

func newMetrics() *metrics { return &metrics{hist: map[string]*hist{}, failed: map[string]uint64{}} }

func (m *metrics) observe(kind string, d time.Duration) {
	s := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.hist[kind]
	if h == nil {
		h = &hist{counts: make([]uint64, len(buckets))}
		m.hist[kind] = h
	}
	for i, b := range buckets {
		if s <= b {
			h.counts[i]++
			break
		}
	}
	h.count++
	h.sum += s
}

func (m *metrics) fail(kind string) {
	m.mu.Lock()
	m.failed[kind]++
	m.mu.Unlock()
}

// WriteMetrics writes madoguchi_notify_delivery_seconds (histogram of the
// time from enqueue to a 2xx answer, per kind) and
// madoguchi_notify_failed_attempts_total.
func (n *Notifier) WriteMetrics(w io.Writer) {
	m := n.metrics
	m.mu.Lock()
	defer m.mu.Unlock()
	kinds := make([]string, 0, len(m.hist))
	for k := range m.hist {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	fmt.Fprintln(w, "# HELP madoguchi_notify_delivery_seconds Time from enqueue to the receiver's 2xx answer, by event kind.")
	fmt.Fprintln(w, "# TYPE madoguchi_notify_delivery_seconds histogram")
	for _, k := range kinds {
		h := m.hist[k]
		l := "kind=" + strconv.Quote(k)
		var cum uint64
		for i, b := range buckets {
			cum += h.counts[i]
			fmt.Fprintf(w, "madoguchi_notify_delivery_seconds_bucket{%s,le=\"%s\"} %d\n", l, ffmt(b), cum)
		}
		fmt.Fprintf(w, "madoguchi_notify_delivery_seconds_bucket{%s,le=\"+Inf\"} %d\n", l, h.count)
		fmt.Fprintf(w, "madoguchi_notify_delivery_seconds_sum{%s} %s\n", l, ffmt(h.sum))
		fmt.Fprintf(w, "madoguchi_notify_delivery_seconds_count{%s} %d\n", l, h.count)
	}
	fk := make([]string, 0, len(m.failed))
	for k := range m.failed {
		fk = append(fk, k)
	}
	sort.Strings(fk)
	fmt.Fprintln(w, "# HELP madoguchi_notify_failed_attempts_total Delivery attempts that did not get a 2xx answer, by event kind.")
	fmt.Fprintln(w, "# TYPE madoguchi_notify_failed_attempts_total counter")
	for _, k := range fk {
		fmt.Fprintf(w, "madoguchi_notify_failed_attempts_total{kind=%s} %d\n", strconv.Quote(k), m.failed[k])
	}
}

func ffmt(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
