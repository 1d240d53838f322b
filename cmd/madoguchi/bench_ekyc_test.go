package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
)

func TestProcCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	a, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatalf("procCPU(self) = %v", err)
	}
	x := 0
	for i := 0; i < 50_000_000; i++ { // burn some CPU
		x += i
	}
	b, err := procCPU(os.Getpid())
	if err != nil || b < a || a < 0 {
		t.Errorf("procCPU = %v then %v (%v), want non-decreasing and non-negative", a, b, err)
	}
	if _, err := procCPU(-1); err == nil {
		t.Errorf("procCPU(-1) = nil error")
	}
	if v, err := procCPU(0); v != 0 || err != nil {
		t.Errorf("procCPU(0) = %v, %v; want 0, nil", v, err)
	}
	_ = x
}

func TestBenchEKYCUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--method", "he"},
		{"--method", "he", "--selfie", "x.png"},
		{"--method", "ho", "--selfie", "x.png", "--doc", "a,b"},
		{"--method", "xx", "--selfie", "x.png"},
		{"--selfie", "x.png", "--sessions", "0"},
	} {
		var out, errb bytes.Buffer
		e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
		err := benchEKYC(context.Background(), e, args)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("bench ekyc %v = %v, want a usage error", args, err)
		}
	}
}
