package progress

import (
	"bytes"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestTerminal opens a pseudo-terminal: Auto picks Line on its slave side,
// and the master reads the redrawn line.
func TestTerminal(t *testing.T) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer master.Close()
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	slave, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open slave: %v", err)
	}
	defer slave.Close()

	c := newClock()
	r := New(slave, "models install", 3, Options{Unit: "packages", Now: c.now})
	if r.Mode() != Line {
		t.Fatalf("mode on a terminal = %v, want Line", r.Mode())
	}
	c.tick(time.Second)
	r.Add(3)
	r.Done()

	want := []byte("models install  3/3 packages  100.0%  3.00/s  in 0:01")
	got := make([]byte, 0, 256)
	buf := make([]byte, 256)
	master.SetReadDeadline(time.Now().Add(5 * time.Second))
	for !bytes.Contains(got, want) {
		k, err := master.Read(buf)
		if err != nil {
			t.Fatalf("read from the terminal: %v (so far %q)", err, got)
		}
		got = append(got, buf[:k]...)
	}
	if !bytes.HasPrefix(got, []byte("\r")) {
		t.Errorf("terminal output %q does not start with a carriage return", got)
	}
}
