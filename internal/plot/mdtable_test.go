package plot

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTables(t *testing.T) {
	md := "# Title\n\ntext | not a table\n\n## Section A\n\n| a | b `x\\|y` | c |\n|---|---:|:-:|\n| 1 | **2** |\n| 4 | 5 | 6 | 7 |\nafter\n\n### B\n|h|\n|-|\n|v|"
	got, err := ParseTables([]byte(md))
	if err != nil {
		t.Fatal(err)
	}
	want := []Table{
		{Heading: "Section A", Header: []string{"a", "b `x|y`", "c"}, Rows: [][]string{{"1", "**2**", ""}, {"4", "5", "6"}}},
		{Heading: "B", Header: []string{"h"}, Rows: [][]string{{"v"}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseTables (-want +got):\n%s", diff)
	}
}

func TestNumber(t *testing.T) {
	for in, want := range map[string]float64{"5,326": 5326, "1.56 ms": 1.56, "**0.58×** (median)": 0.58, "`-3`": -3, " 16,754 ": 16754} {
		if got, ok := Number(in); !ok || got != want {
			t.Errorf("Number(%q) = %v, %v, want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "ratio", "—", "× 2"} {
		if _, ok := Number(in); ok {
			t.Errorf("Number(%q) ok, want not a number", in)
		}
	}
}

// FuzzParseTables: any input parses without panicking, and every row is as
// long as its header.
func FuzzParseTables(f *testing.F) {
	f.Add([]byte("## H\n| a | b |\n|---|---|\n| 1 | 2 |\n"))
	f.Add([]byte("|x\\|\n|-|\n|\\|\n"))
	f.Fuzz(func(t *testing.T, md []byte) {
		ts, err := ParseTables(md)
		if err != nil {
			return
		}
		for _, tb := range ts {
			for _, r := range tb.Rows {
				if len(r) != len(tb.Header) {
					t.Fatalf("row %q under header %q", r, tb.Header)
				}
			}
		}
	})
}
