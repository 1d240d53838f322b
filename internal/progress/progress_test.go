package progress

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a fake clock advanced by the test.
type clock struct{ t time.Time }

func (c *clock) now() time.Time       { return c.t }
func (c *clock) tick(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                { return &clock{t: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)} }

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": Auto, "auto": Auto, "OFF": Off, "line": Line, " json ": JSON} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	if _, err := ParseMode("verbose"); err == nil {
		t.Errorf("ParseMode(verbose) = nil error")
	}
}

// TestLine: the redrawn line, throttled to the interval, padded over a
// longer previous line, ended by Done.
func TestLine(t *testing.T) {
	c := newClock()
	var b bytes.Buffer
	r := New(&b, "face evaluate", 1000, Options{Mode: Line, Unit: "pairs", Now: c.now, Interval: time.Second})
	c.tick(2 * time.Second)
	r.Add(100) // reported: first report
	c.tick(500 * time.Millisecond)
	r.Add(100) // within the interval: not reported
	c.tick(1500 * time.Millisecond)
	r.Add(200) // 400 in 4 s: 100/s, 600 left: ETA 6 s
	c.tick(6 * time.Second)
	r.Add(600)
	r.Done()
	r.Done()
	want := "\rface evaluate  100/1000 pairs   10.0%  50.0/s  ETA 0:18" +
		"\rface evaluate  400/1000 pairs   40.0%  100/s  ETA 0:06 " +
		"\rface evaluate  1000/1000 pairs  100.0%  100/s         " +
		"\rface evaluate  1000/1000 pairs  100.0%  100/s  in 0:10\n"
	if got := b.String(); got != want {
		t.Errorf("line output =\n%q\nwant\n%q", got, want)
	}
}

// TestJSON: one JSON object per line, the last one finished.
func TestJSON(t *testing.T) {
	c := newClock()
	var b bytes.Buffer
	r := New(&b, "keys rewrap", 0, Options{Mode: JSON, Unit: "keys", Now: c.now})
	c.tick(time.Second)
	r.Add(10)
	c.tick(time.Second) // below the 5 s default
	r.Add(10)
	r.SetTotal(40)
	c.tick(5 * time.Second)
	r.Add(10)
	r.Done()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	want := []Event{
		{Name: "keys rewrap", Done: 10, Unit: "keys", Rate: 10, Elapsed: 1},
		{Name: "keys rewrap", Done: 30, Total: 40, Unit: "keys", Rate: 4.286, Elapsed: 7, ETA: 2.3},
		{Name: "keys rewrap", Done: 30, Total: 40, Unit: "keys", Rate: 4.286, Elapsed: 7, Finished: true},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d JSON lines, want %d:\n%s", len(lines), len(want), b.String())
	}
	for i, l := range lines {
		var ev Event
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		if ev != want[i] {
			t.Errorf("line %d = %+v, want %+v", i, ev, want[i])
		}
	}
}

// TestQuietWithoutTerminal: Auto writes nothing to a buffer, a file or
// /dev/null (a character device but not a terminal), and Off nothing at all.
func TestQuietWithoutTerminal(t *testing.T) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b bytes.Buffer
	for name, r := range map[string]*Reporter{
		"buffer":    New(&b, "x", 3, Options{}),
		"file":      New(f, "x", 3, Options{}),
		"/dev/null": New(devnull, "x", 3, Options{}),
		"off":       New(&b, "x", 3, Options{Mode: Off}),
	} {
		if r.Mode() != Off {
			t.Errorf("%s: mode %v, want Off", name, r.Mode())
		}
		r.Add(3)
		r.Done()
	}
	if st, _ := f.Stat(); b.Len() != 0 || st.Size() != 0 {
		t.Errorf("quiet reporters wrote %q and %d file bytes", b.String(), st.Size())
	}
}

// TestConcurrent: Add from many goroutines counts every item.
func TestConcurrent(t *testing.T) {
	var b bytes.Buffer
	r := New(&b, "x", 0, Options{Mode: JSON, Interval: time.Hour})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				r.Add(1)
			}
		})
	}
	wg.Wait()
	r.Done()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	var last Event
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Done != 8000 || !last.Finished {
		t.Errorf("last event %+v, %v; want 8000 done, finished", last, err)
	}
}

func TestFormatDuration(t *testing.T) {
	for sec, want := range map[float64]string{0: "0:00", 59.6: "1:00", 61: "1:01", 3600: "1:00:00", 3725: "1:02:05"} {
		if got := formatDuration(sec); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", sec, got, want)
		}
	}
}
