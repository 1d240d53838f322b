package tenant

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// A hand-written strict reader for the small JSON objects of JOSE (JWS
// headers, JWT claims, JWKs). encoding/json's token API costs hundreds of
// allocations for a DPoP proof; this reader walks the object once, hands
// each member's raw value to a callback and allocates nothing of its own
// for members without escapes. It is as strict as decodeObject was: valid
// UTF-8, exactly one object, no duplicate member names, nesting at most
// maxJSONDepth, every value valid JSON (checked with json.Valid, which
// does not allocate), nothing after the object but whitespace.

var (
	errNotObject = errors.New("not a JSON object")
	errMalformed = errors.New("malformed JSON")
)

// ScanObject reads one JSON object strictly and calls fn with each member's
// name and raw value (valid JSON, no surrounding whitespace), in order. It
// stops at fn's first error. Duplicate names are refused before fn sees
// the second one.
func ScanObject(b []byte, fn func(name string, raw []byte) error) error {
	if !utf8.Valid(b) {
		return errors.New("not valid UTF-8")
	}
	if err := checkDepth(b, maxJSONDepth); err != nil {
		return err
	}
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errNotObject
	}
	i = skipWS(b, i+1)
	// Names seen so far: a short list suffices for JOSE objects; a map
	// takes over for larger ones.
	var few [16]string
	seen := few[:0]
	var many map[string]struct{}
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(b) || b[i] != '"' {
				return errMalformed
			}
			end, err := stringEnd(b, i)
			if err != nil {
				return err
			}
			name, ok := JSONString(b[i:end])
			if !ok {
				return errMalformed
			}
			if many != nil {
				if _, dup := many[name]; dup {
					return fmt.Errorf("duplicate member %q", truncate(name))
				}
				many[name] = struct{}{}
			} else {
				for _, s := range seen {
					if s == name {
						return fmt.Errorf("duplicate member %q", truncate(name))
					}
				}
				if len(seen) < cap(seen) {
					seen = append(seen, name)
				} else {
					many = make(map[string]struct{}, 2*len(seen))
					for _, s := range seen {
						many[s] = struct{}{}
					}
					many[name] = struct{}{}
				}
			}
			i = skipWS(b, end)
			if i >= len(b) || b[i] != ':' {
				return errMalformed
			}
			i = skipWS(b, i+1)
			vend, err := valueEnd(b, i)
			if err != nil {
				return err
			}
			raw := b[i:vend]
			if !json.Valid(raw) {
				return errMalformed
			}
			if err := fn(name, raw); err != nil {
				return err
			}
			i = skipWS(b, vend)
			if i >= len(b) {
				return errMalformed
			}
			if b[i] == '}' {
				i++
				break
			}
			if b[i] != ',' {
				return errMalformed
			}
			i = skipWS(b, i+1)
		}
	}
	if skipWS(b, i) != len(b) {
		return errors.New("trailing data after JSON object")
	}
	return nil
}

// JSONString returns the string a raw JSON value denotes; ok is false for
// anything but a JSON string (null included). Strings without escapes are
// read directly; others go through encoding/json.
func JSONString(raw []byte) (s string, ok bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	in := raw[1 : len(raw)-1]
	if !utf8.Valid(in) {
		return "", false // encoding/json would replace, not refuse
	}
	plain := true
	for _, c := range in {
		if c == '\\' || c == '"' || c < 0x20 {
			plain = false
			break
		}
	}
	if plain {
		return string(in), true
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the JSON string starting at b[i]
// (a '"'), honouring backslash escapes. Escape validity is left to the
// decoder of the string.
func stringEnd(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errMalformed
}

// valueEnd returns the index just past the JSON value starting at b[i]:
// a string, an object or array (brackets counted outside strings), or a
// literal or number (up to the next delimiter). The value is validated
// separately.
func valueEnd(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errMalformed
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e, err := stringEnd(b, j)
				if err != nil {
					return 0, err
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errMalformed
	case ',', '}', ']', ':':
		return 0, errMalformed
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	return j, nil
}
