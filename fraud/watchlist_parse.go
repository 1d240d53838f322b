package fraud

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Watchlist import limits.
const (
	MaxListBytes   = 1 << 30 // one import file
	MaxListEntries = 20_000_000
	MaxAliases     = 16
	MaxEntryIDLen  = 64
	MaxListIDLen   = 64
)

// ListEntry is one person on a watchlist. Names are in any script; at
// least one of Name, Kana, Latin is required. BirthDate is YYYY-MM-DD or
// "" (unknown: a name match alone is a hit).
type ListEntry struct {
	ID        string   `json:"id"`
	Name      string   `json:"name,omitempty"`
	Kana      string   `json:"kana,omitempty"`
	Latin     string   `json:"latin,omitempty"`
	Aliases   []string `json:"aliases,omitempty"`
	BirthDate string   `json:"birth_date,omitempty"`
	ListID    string   `json:"list_id,omitempty"`
}

// names returns every name of the entry.
func (e *ListEntry) names() []string {
	out := make([]string, 0, 3+len(e.Aliases))
	for _, n := range append([]string{e.Name, e.Kana, e.Latin}, e.Aliases...) {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// ListError is a refused import: which record (1-based line for CSV, entry
// index for JSON) and field, and why. It never quotes the value.
type ListError struct {
	Record int
	Field  string
	Reason string
}

func (e *ListError) Error() string {
	if e.Record == 0 {
		return fmt.Sprintf("watchlist: %s", e.Reason)
	}
	if e.Field == "" {
		return fmt.Sprintf("watchlist: record %d: %s", e.Record, e.Reason)
	}
	return fmt.Sprintf("watchlist: record %d: %s: %s", e.Record, e.Field, e.Reason)
}

func (e *ListError) Unwrap() error { return ErrInvalidInput }

// ParseList reads a watchlist in format "csv" or "json" and checks every
// entry. listID, if not empty, must equal every entry's list_id (entries
// without one take it). The whole file is read before anything is kept:
// a malformed file is refused whole with the first error.
//
// CSV: a header naming the columns id, name, kana, latin, aliases
// (separated by "|"), birth_date, list_id (any order; id and one name
// column required), UTF-8, at most MaxListBytes.
// JSON: {"list_id": "...", "entries": [{"id": ..., "name": ..., ...}]}.
func ParseList(format, listID string, r io.Reader) ([]ListEntry, error) {
	lr := &io.LimitedReader{R: r, N: MaxListBytes + 1}
	var (
		entries []ListEntry
		err     error
	)
	switch format {
	case "csv":
		entries, err = parseCSV(lr)
	case "json":
		entries, err = parseJSON(lr)
	default:
		return nil, &ListError{Reason: "format must be csv or json"}
	}
	if lr.N <= 0 {
		return nil, &ListError{Reason: fmt.Sprintf("the file is over %d bytes", MaxListBytes)}
	}
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, &ListError{Reason: "the list has no entries"}
	}
	seen := make(map[string]bool, len(entries))
	for i := range entries {
		e := &entries[i]
		if e.ListID == "" {
			e.ListID = listID
		}
		if err := checkEntry(e); err != nil {
			err.Record = i + 1
			if format == "csv" {
				err.Record = i + 2 // the header is line 1
			}
			return nil, err
		}
		if listID != "" && e.ListID != listID || i > 0 && e.ListID != entries[0].ListID {
			return nil, &ListError{Record: i + 1, Field: "list_id", Reason: "every entry must belong to the list being imported"}
		}
		if seen[e.ID] {
			return nil, &ListError{Record: i + 1, Field: "id", Reason: "repeated entry id"}
		}
		seen[e.ID] = true
	}
	return entries, nil
}

func checkEntry(e *ListEntry) *ListError {
	if !validID(e.ID, MaxEntryIDLen) {
		return &ListError{Field: "id", Reason: fmt.Sprintf("1-%d printable ASCII characters required", MaxEntryIDLen)}
	}
	if !validID(e.ListID, MaxListIDLen) {
		return &ListError{Field: "list_id", Reason: fmt.Sprintf("1-%d printable ASCII characters required", MaxListIDLen)}
	}
	if len(e.Aliases) > MaxAliases {
		return &ListError{Field: "aliases", Reason: fmt.Sprintf("at most %d aliases", MaxAliases)}
	}
	keys := 0
	for _, f := range []struct{ name, v string }{{"name", e.Name}, {"kana", e.Kana}, {"latin", e.Latin}} {
		if err := checkName(f.v); err != "" {
			return &ListError{Field: f.name, Reason: err}
		}
		keys += len(nameKeys(f.v))
	}
	for _, a := range e.Aliases {
		if err := checkName(a); err != "" || a == "" {
			return &ListError{Field: "aliases", Reason: "each alias must be a non-empty name of at most 256 bytes of text"}
		}
		keys += len(nameKeys(a))
	}
	if keys == 0 {
		return &ListError{Field: "name", Reason: "at least one of name, kana, latin must hold a name"}
	}
	if e.BirthDate != "" {
		if _, err := time.Parse(time.DateOnly, e.BirthDate); err != nil {
			return &ListError{Field: "birth_date", Reason: "must be YYYY-MM-DD"}
		}
	}
	return nil
}

func checkName(v string) string {
	if len(v) > MaxNameLen {
		return fmt.Sprintf("at most %d bytes", MaxNameLen)
	}
	if !utf8.ValidString(v) {
		return "not UTF-8"
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return "control characters are not allowed"
		}
	}
	return ""
}

func validID(v string, n int) bool {
	if v == "" || len(v) > n {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= 0x20 || v[i] >= 0x7f {
			return false
		}
	}
	return true
}

var csvColumns = map[string]bool{"id": true, "name": true, "kana": true, "latin": true, "aliases": true, "birth_date": true, "list_id": true}

func parseCSV(r io.Reader) ([]ListEntry, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, _ := br.Peek(3); bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3) // a UTF-8 byte-order mark
	}
	cr := csv.NewReader(br)
	cr.ReuseRecord = false
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &ListError{Reason: "the file is empty"}
	}
	if err != nil {
		return nil, &ListError{Record: 1, Reason: "not CSV: " + csvReason(err)}
	}
	col := map[string]int{}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(h))
		if !csvColumns[h] {
			return nil, &ListError{Record: 1, Reason: "unknown column (want id, name, kana, latin, aliases, birth_date, list_id)"}
		}
		if _, dup := col[h]; dup {
			return nil, &ListError{Record: 1, Reason: "repeated column " + h}
		}
		col[h] = i
	}
	if _, ok := col["id"]; !ok {
		return nil, &ListError{Record: 1, Reason: "the header needs an id column"}
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var out []ListEntry
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, &ListError{Record: line, Reason: "not CSV: " + csvReason(err)}
		}
		if len(out) >= MaxListEntries {
			return nil, &ListError{Record: line, Reason: fmt.Sprintf("more than %d entries", MaxListEntries)}
		}
		e := ListEntry{ID: get(rec, "id"), Name: get(rec, "name"), Kana: get(rec, "kana"), Latin: get(rec, "latin"),
			BirthDate: get(rec, "birth_date"), ListID: get(rec, "list_id")}
		if a := get(rec, "aliases"); a != "" {
			for _, x := range strings.Split(a, "|") {
				e.Aliases = append(e.Aliases, strings.TrimSpace(x))
			}
		}
		out = append(out, e)
	}
}

// csvReason is the CSV parser's complaint without the record's content.
func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return "unreadable"
}

func parseJSON(r io.Reader) ([]ListEntry, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	bad := func(reason string) error { return &ListError{Reason: "not a JSON watchlist: " + reason} }
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, bad(`want an object {"list_id": ..., "entries": [...]}`)
	}
	var (
		out    []ListEntry
		listID string
		seen   = map[string]bool{}
	)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, bad("unreadable object key")
		}
		key, _ := t.(string)
		if seen[key] {
			return nil, bad("repeated key " + key)
		}
		seen[key] = true
		switch key {
		case "list_id":
			if err := dec.Decode(&listID); err != nil {
				return nil, bad("list_id must be a string")
			}
		case "entries":
			if t, err := dec.Token(); err != nil || t != json.Delim('[') {
				return nil, bad("entries must be an array")
			}
			for dec.More() {
				if len(out) >= MaxListEntries {
					return nil, &ListError{Record: len(out) + 1, Reason: fmt.Sprintf("more than %d entries", MaxListEntries)}
				}
				var e ListEntry
				if err := dec.Decode(&e); err != nil {
					return nil, &ListError{Record: len(out) + 1, Reason: "not an entry object (id, name, kana, latin, aliases, birth_date, list_id)"}
				}
				out = append(out, e)
			}
			if _, err := dec.Token(); err != nil {
				return nil, bad("unterminated entries array")
			}
		default:
			return nil, bad("unknown key (want list_id and entries)")
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad("unterminated object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, bad("trailing data after the object")
	}
	for i := range out {
		if out[i].ListID == "" {
			out[i].ListID = listID
		} else if listID != "" && out[i].ListID != listID {
			return nil, &ListError{Record: i + 1, Field: "list_id", Reason: "differs from the file's list_id"}
		}
	}
	return out, nil
}
