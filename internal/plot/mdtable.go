package plot

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Limits on Markdown input to ParseTables.
const (
	MaxMarkdown  = 4 << 20
	MaxTableRows = 1000
)

// Table is a Markdown pipe table (GitHub style) and the heading it is under,
// so that a chart can name the table it draws by its section.
type Table struct {
	Heading string // text of the nearest heading above, without '#'
	Header  []string
	Rows    [][]string // each as long as Header
}

var delimiterRow = regexp.MustCompile(`^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?$`)

// ParseTables finds the pipe tables of a Markdown document: a header row,
// a delimiter row (|---|:--:|), then the rows up to the first line that does
// not start with '|'. Rows are padded or cut to the header's length. Cells
// keep their Markdown (emphasis, code); see Number.
func ParseTables(md []byte) ([]Table, error) {
	if len(md) > MaxMarkdown {
		return nil, fmt.Errorf("plot: Markdown of %d bytes (at most %d)", len(md), MaxMarkdown)
	}
	var (
		out     []Table
		heading string
		prev    string
		cur     *Table
	)
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(make([]byte, 0, 64<<10), MaxMarkdown)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case cur != nil && strings.HasPrefix(line, "|"):
			if len(cur.Rows) >= MaxTableRows {
				return nil, fmt.Errorf("plot: table under %q has more than %d rows", cur.Heading, MaxTableRows)
			}
			cur.Rows = append(cur.Rows, fit(splitRow(line), len(cur.Header)))
		case cur != nil:
			out = append(out, *cur)
			cur = nil
		}
		if cur == nil && strings.HasPrefix(prev, "|") && delimiterRow.MatchString(line) && strings.Contains(line, "-") {
			cur = &Table{Heading: heading, Header: splitRow(prev)}
		}
		if strings.HasPrefix(line, "#") {
			heading = strings.TrimSpace(strings.TrimLeft(line, "#"))
		}
		prev = line
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out, nil
}

// splitRow splits "| a | b \| c |" into cells, honouring \| escapes.
func splitRow(line string) []string {
	line = strings.TrimPrefix(strings.TrimSpace(line), "|")
	if strings.HasSuffix(line, "|") && !strings.HasSuffix(line, `\|`) {
		line = line[:len(line)-1]
	}
	var cells []string
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			b.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(b.String()))
			b.Reset()
		default:
			b.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(b.String()))
}

func fit(cells []string, n int) []string {
	for len(cells) < n {
		cells = append(cells, "")
	}
	return cells[:n]
}

var leadingNumber = regexp.MustCompile(`^[-+]?[0-9][0-9,]*(\.[0-9]+)?`)

// Number reads the number a table cell starts with, ignoring Markdown
// emphasis and code marks, thousands separators and what follows (a unit,
// a note): "**0.58×** (median)" is 0.58, "5,326" is 5326, "1.56 ms" is 1.56.
func Number(cell string) (float64, bool) {
	s := strings.TrimLeft(strings.TrimSpace(cell), "*_`")
	m := leadingNumber.FindString(s)
	if m == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(m, ",", ""), 64)
	return v, err == nil
}
