package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
)

// benchEKYC runs whole eKYC sessions against a server from this process,
// several at once, and reports sessions decided per minute, the latency from
// the last capture (submit) to the decision, and, with --server-pid, the
// server's CPU time per session read from /proc.
func benchEKYC(ctx context.Context, e *env, args []string) error {
	const synopsis = "bench ekyc --server URL --data DIR --method he|ho [--chip DIR] [--doc FRONT,BACK,TILT] --selfie FILE... [--sessions N] [--concurrency C] [--server-pid PID]"
	fs := newFlagSet(e, "bench ekyc", synopsis)
	var d dataFlags
	d.register(fs, e)
	server := fs.String("server", "http://127.0.0.1:8080", "server URL")
	method := fs.String("method", "he", "he (chip + selfie) or ho (document photos + selfie)")
	chipDir := fs.String("chip", "", "chip files for he (as written by 'madoguchi dev chip')")
	docs := fs.String("doc", "", "front,back,tilt document photos for ho")
	var selfies repeated
	fs.Var(&selfies, "selfie", "selfie frame (repeat)")
	n := fs.Int("sessions", 20, "sessions to run")
	conc := fs.Int("concurrency", 4, "sessions in flight at once")
	pid := fs.Int("server-pid", 0, "server process id, to report its CPU time per session (Linux /proc)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *n < 1 || *n > 10000 || *conc < 1 || *conc > 256 || len(selfies) == 0 {
		return usageError{"usage: madoguchi " + synopsis}
	}
	switch {
	case *method != "he" && *method != "ho":
		return usageError{"--method: he or ho"}
	case *method == "he" && *chipDir == "":
		return usageError{"--method he needs --chip DIR"}
	case *method == "ho" && len(strings.Split(*docs, ",")) != 3:
		return usageError{"--method ho needs --doc FRONT,BACK,TILT"}
	}
	plan := sessionPlan{method: *method, locale: "ja", wait: 10 * time.Minute, poll: 50 * time.Millisecond}
	for _, p := range selfies {
		b, err := readLimited(p, ekyc.MaxImageBytes)
		if err != nil {
			return err
		}
		plan.selfies = append(plan.selfies, b)
	}
	switch *method {
	case "he":
		kind, files, _, err := readChipDir(*chipDir, "")
		if err != nil {
			return err
		}
		plan.kind, plan.chip = kind, files
	case "ho":
		parts := strings.Split(*docs, ",")
		for i, k := range []ekyc.FrameKind{ekyc.FrameDocFront, ekyc.FrameDocBack, ekyc.FrameDocTilt} {
			b, err := readLimited(parts[i], ekyc.MaxImageBytes)
			if err != nil {
				return err
			}
			plan.docs = append(plan.docs, docFrame{k, b})
		}
	}
	id, key, _, err := devKiosk(ctx, d)
	if err != nil {
		return err
	}
	if *method == "ho" {
		// The example policy offers ヘ only; ホ is still in force until
		// 2027-04-01, so the development kiosk may offer it for the benchmark.
		if _, err := devKioskAllow(ctx, d, "ho"); err != nil {
			return err
		}
	}

	cpu0, err := procCPU(*pid)
	if err != nil {
		return err
	}
	var (
		mu        sync.Mutex
		lat       []time.Duration
		outcomes  = map[string]int{}
		failures  int
		firstFail string
		next      int
		wg        sync.WaitGroup
	)
	start := time.Now()
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := loadAPIClient(*server, "", id, key)
			if err != nil {
				mu.Lock()
				failures++
				firstFail = err.Error()
				mu.Unlock()
				return
			}
			for {
				mu.Lock()
				if next >= *n || ctx.Err() != nil {
					mu.Unlock()
					return
				}
				next++
				mu.Unlock()
				res, err := runDevSession(ctx, c, plan)
				mu.Lock()
				if err != nil {
					failures++
					if firstFail == "" {
						firstFail = err.Error()
					}
				} else {
					outcomes[res.Decision]++
					lat = append(lat, res.decisionLatency)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, err := procCPU(*pid)
	if err != nil {
		return err
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000
	}
	out := map[string]any{
		"method": *method, "sessions": *n, "concurrency": *conc, "decided": len(lat), "failed": failures,
		"outcomes": outcomes, "seconds": elapsed.Seconds(),
		"sessions_per_min":        float64(len(lat)) / elapsed.Minutes(),
		"decision_latency_p50_ms": pct(0.5), "decision_latency_p99_ms": pct(0.99),
	}
	if firstFail != "" {
		out["first_failure"] = firstFail
	}
	if *pid > 0 && len(lat) > 0 {
		out["server_cpu_s_per_session"] = (cpu1 - cpu0) / float64(len(lat))
	}
	return json.NewEncoder(e.stdout).Encode(out)
}

// procCPU returns the user+system CPU seconds of process pid (0: none).
func procCPU(pid int) (float64, error) {
	if pid == 0 {
		return 0, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 (1-based), in clock ticks (100 Hz on Linux).
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc stat format")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("unexpected /proc stat format")
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("unexpected /proc stat format")
	}
	return (ut + st) / 100, nil
}
