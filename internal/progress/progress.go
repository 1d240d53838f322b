// Package progress reports the progress of long operator commands (model
// installation, key rewrapping, face evaluation and calibration, trust
// imports, migrations).
//
// On a terminal a Reporter redraws one line in place: the count, the total
// and percentage when known, the rate and the time left. Anywhere else it
// is silent by default, so logs, pipes and scripts see no control
// characters; asked for JSON it writes one JSON object per line at a slow
// pace, for machines that watch long work. The mode comes from the caller
// (madoguchi reads MADOGUCHI_PROGRESS: auto, off, line or json).
//
// A Reporter is safe for concurrent use. It never writes more often than
// its interval, except the final report of Done, which is always written
// (in line and JSON modes).
package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"
)

// Mode says how a Reporter writes.
type Mode int

// Modes.
const (
	// Auto is Line when the writer is a terminal, Off otherwise.
	Auto Mode = iota
	// Off writes nothing.
	Off
	// Line redraws one line with carriage returns (for a terminal).
	Line
	// JSON writes one JSON object per line (Event).
	JSON
)

// ParseMode reads a mode name: "", "auto", "off", "line" or "json".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return Auto, nil
	case "off":
		return Off, nil
	case "line":
		return Line, nil
	case "json":
		return JSON, nil
	}
	return Auto, fmt.Errorf("progress: mode %q: want auto, off, line or json", s)
}

// Options configure a Reporter.
type Options struct {
	Mode Mode
	// Unit names what is counted ("images", "keys"); empty: nothing shown.
	Unit string
	// Interval is the least time between two reports (default 100 ms on
	// a line, 5 s in JSON).
	Interval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Event is one JSON report.
type Event struct {
	Name     string  `json:"progress"`
	Done     int64   `json:"done"`
	Total    int64   `json:"total,omitempty"` // 0: unknown
	Unit     string  `json:"unit,omitempty"`
	Rate     float64 `json:"rate"` // per second, since the start
	Elapsed  float64 `json:"elapsed_seconds"`
	ETA      float64 `json:"eta_seconds,omitempty"` // when the total is known
	Finished bool    `json:"finished,omitempty"`
}

// Reporter counts work done and reports it.
type Reporter struct {
	w        io.Writer
	name     string
	mode     Mode
	unit     string
	interval time.Duration
	now      func() time.Time

	mu       sync.Mutex
	total    int64
	done     int64
	start    time.Time
	last     time.Time // of the last report
	width    int       // of the last line drawn
	finished bool
}

// New returns a Reporter for the work called name, total items (0 if
// unknown), writing to w.
func New(w io.Writer, name string, total int64, o Options) *Reporter {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Mode == Auto {
		o.Mode = Off
		if f, ok := w.(*os.File); ok && isTerminal(f) {
			o.Mode = Line
		}
	}
	if o.Interval <= 0 {
		o.Interval = 100 * time.Millisecond
		if o.Mode == JSON {
			o.Interval = 5 * time.Second
		}
	}
	return &Reporter{w: w, name: name, mode: o.Mode, unit: o.Unit, interval: o.Interval, now: o.Now, total: max(total, 0), start: o.Now()}
}

// Mode is the Reporter's resolved mode (never Auto).
func (r *Reporter) Mode() Mode { return r.mode }

// SetTotal sets or corrects the total (0: unknown).
func (r *Reporter) SetTotal(n int64) {
	r.mu.Lock()
	r.total = max(n, 0)
	r.mu.Unlock()
}

// Add counts n more items done and reports if the interval has passed.
func (r *Reporter) Add(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done += n
	if r.mode == Off || r.finished {
		return
	}
	now := r.now()
	if !r.last.IsZero() && now.Sub(r.last) < r.interval {
		return
	}
	r.last = now
	r.report(now, false)
}

// Done writes the final report (and ends the line on a terminal). Later
// calls do nothing.
func (r *Reporter) Done() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished || r.mode == Off {
		r.finished = true
		return
	}
	r.finished = true
	r.report(r.now(), true)
}

func (r *Reporter) event(now time.Time, finished bool) Event {
	el := now.Sub(r.start).Seconds()
	ev := Event{Name: r.name, Done: r.done, Total: r.total, Unit: r.unit, Elapsed: round(el, 3), Finished: finished}
	if el > 0 {
		ev.Rate = round(float64(r.done)/el, 3)
	}
	if r.total > 0 && r.done < r.total && ev.Rate > 0 && !finished {
		ev.ETA = round(float64(r.total-r.done)/(float64(r.done)/el), 1)
	}
	return ev
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// report writes one report; r.mu is held. Write errors are ignored:
// progress is a courtesy and must never fail the work.
func (r *Reporter) report(now time.Time, finished bool) {
	ev := r.event(now, finished)
	switch r.mode {
	case JSON:
		b, _ := json.Marshal(ev)
		r.w.Write(append(b, '\n'))
	case Line:
		s := formatLine(ev)
		pad := ""
		if n := len([]rune(s)); n < r.width {
			pad = strings.Repeat(" ", r.width-n)
		}
		r.width = len([]rune(s))
		end := ""
		if finished {
			end = "\n"
		}
		fmt.Fprintf(r.w, "\r%s%s%s", s, pad, end)
	}
}

// formatLine renders an event for a terminal.
func formatLine(ev Event) string {
	var b strings.Builder
	b.WriteString(ev.Name)
	b.WriteString("  ")
	if ev.Total > 0 {
		fmt.Fprintf(&b, "%d/%d", ev.Done, ev.Total)
	} else {
		fmt.Fprintf(&b, "%d", ev.Done)
	}
	if ev.Unit != "" {
		b.WriteString(" " + ev.Unit)
	}
	if ev.Total > 0 {
		fmt.Fprintf(&b, "  %5.1f%%", 100*float64(ev.Done)/float64(ev.Total))
	}
	fmt.Fprintf(&b, "  %s/s", formatRate(ev.Rate))
	switch {
	case ev.Finished:
		fmt.Fprintf(&b, "  in %s", formatDuration(ev.Elapsed))
	case ev.ETA > 0:
		fmt.Fprintf(&b, "  ETA %s", formatDuration(ev.ETA))
	}
	return b.String()
}

func formatRate(r float64) string {
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0f", r)
	case r >= 10:
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%.2f", r)
}

// formatDuration renders seconds as m:ss or h:mm:ss.
func formatDuration(sec float64) string {
	s := int64(math.Round(sec))
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// Set records that n items are done in all (for callers that learn
// absolute counts) and reports like Add.
func (r *Reporter) Set(n int64) {
	r.mu.Lock()
	d := n - r.done
	r.mu.Unlock()
	r.Add(d)
}
