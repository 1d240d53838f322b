package notify

import (
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// A parser for the RFC 8941 structured fields these headers use:
// dictionaries whose values are items or inner lists, with parameters.
// Decimals are not supported (none of these fields uses them).

// Item kinds.
const (
	KindString = iota + 1
	KindToken
	KindInteger
	KindBytes
	KindBool
)

// Item is a bare item with its parameters.
type Item struct {
	Kind   int
	Str    string // string or token
	Int    int64
	Bytes  []byte
	Bool   bool
	Params Params
}

// Param is one parameter.
type Param struct {
	Key   string
	Value Item // without parameters
}

// Params are an item's or inner list's parameters, in order.
type Params []Param

// Get returns the parameter key.
func (p Params) Get(key string) (Item, bool) {
	for _, x := range p {
		if x.Key == key {
			return x.Value, true
		}
	}
	return Item{}, false
}

// String returns the string (or token) parameter key, or "".
func (p Params) String(key string) string {
	v, ok := p.Get(key)
	if !ok || (v.Kind != KindString && v.Kind != KindToken) {
		return ""
	}
	return v.Str
}

// Value is a dictionary member's value: an item, or an inner list (List
// non-nil) with Params; Raw is the inner list exactly as serialised here
// (the @signature-params value).
type Value struct {
	Item   Item
	List   []Item
	Params Params
	Raw    string
}

// Member is one dictionary member.
type Member struct {
	Key   string
	Value Value
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) errf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format+" at %d", append([]any{ErrMalformed}, append(args, p.i)...)...)
}

func (p *sfParser) sp() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) ows() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// ParseDictionary parses an RFC 8941 dictionary of at most MaxFieldLen
// bytes. A key that appears twice keeps its last value (§3.2).
func ParseDictionary(s string) ([]Member, error) {
	if len(s) > MaxFieldLen {
		return nil, fmt.Errorf("%w: field longer than %d", ErrMalformed, MaxFieldLen)
	}
	p := &sfParser{s: s}
	p.sp()
	var out []Member
	for p.i < len(p.s) {
		if len(out) >= 64 {
			return nil, p.errf("too many members")
		}
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		var v Value
		if p.i < len(p.s) && p.s[p.i] == '=' {
			p.i++
			if v, err = p.listOrItem(); err != nil {
				return nil, err
			}
		} else {
			v.Item = Item{Kind: KindBool, Bool: true}
			if v.Item.Params, err = p.params(); err != nil {
				return nil, err
			}
		}
		replaced := false
		for j := range out {
			if out[j].Key == key {
				out[j].Value, replaced = v, true
			}
		}
		if !replaced {
			out = append(out, Member{Key: key, Value: v})
		}
		p.ows()
		if p.i == len(p.s) {
			return out, nil
		}
		if p.s[p.i] != ',' {
			return nil, p.errf("expected ','")
		}
		p.i++
		p.ows()
		if p.i == len(p.s) {
			return nil, p.errf("trailing ','")
		}
	}
	return out, nil
}

func (p *sfParser) listOrItem() (Value, error) {
	if p.i < len(p.s) && p.s[p.i] == '(' {
		start := p.i
		p.i++
		var v Value
		v.List = []Item{}
		for {
			p.sp()
			if p.i >= len(p.s) {
				return v, p.errf("unterminated inner list")
			}
			if p.s[p.i] == ')' {
				p.i++
				break
			}
			if len(v.List) >= 64 {
				return v, p.errf("inner list too long")
			}
			it, err := p.bareItem()
			if err != nil {
				return v, err
			}
			if it.Params, err = p.params(); err != nil {
				return v, err
			}
			v.List = append(v.List, it)
			if p.i < len(p.s) && p.s[p.i] != ' ' && p.s[p.i] != ')' {
				return v, p.errf("expected ' ' or ')'")
			}
		}
		var err error
		if v.Params, err = p.params(); err != nil {
			return v, err
		}
		v.Raw = p.s[start:p.i]
		return v, nil
	}
	it, err := p.bareItem()
	if err != nil {
		return Value{}, err
	}
	it.Params, err = p.params()
	return Value{Item: it}, err
}

func (p *sfParser) params() (Params, error) {
	var out Params
	for p.i < len(p.s) && p.s[p.i] == ';' {
		p.i++
		p.sp()
		if len(out) >= 32 {
			return nil, p.errf("too many parameters")
		}
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		v := Item{Kind: KindBool, Bool: true}
		if p.i < len(p.s) && p.s[p.i] == '=' {
			p.i++
			if v, err = p.bareItem(); err != nil {
				return nil, err
			}
		}
		replaced := false
		for j := range out {
			if out[j].Key == key {
				out[j].Value, replaced = v, true
			}
		}
		if !replaced {
			out = append(out, Param{Key: key, Value: v})
		}
	}
	return out, nil
}

func (p *sfParser) key() (string, error) {
	start := p.i
	if p.i >= len(p.s) || !(p.s[p.i] >= 'a' && p.s[p.i] <= 'z' || p.s[p.i] == '*') {
		return "", p.errf("key must start with a-z or '*'")
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i], nil
}

func (p *sfParser) bareItem() (Item, error) {
	if p.i >= len(p.s) {
		return Item{}, p.errf("expected an item")
	}
	c := p.s[p.i]
	switch {
	case c == '"':
		return p.str()
	case c == ':':
		p.i++
		end := strings.IndexByte(p.s[p.i:], ':')
		if end < 0 {
			return Item{}, p.errf("unterminated byte sequence")
		}
		b, err := base64.StdEncoding.DecodeString(p.s[p.i : p.i+end])
		if err != nil {
			return Item{}, p.errf("byte sequence is not base64")
		}
		p.i += end + 1
		return Item{Kind: KindBytes, Bytes: b}, nil
	case c == '?':
		if p.i+1 >= len(p.s) || (p.s[p.i+1] != '0' && p.s[p.i+1] != '1') {
			return Item{}, p.errf("bad boolean")
		}
		p.i += 2
		return Item{Kind: KindBool, Bool: p.s[p.i-1] == '1'}, nil
	case c == '-' || c >= '0' && c <= '9':
		start := p.i
		if c == '-' {
			p.i++
		}
		d := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		if p.i == d || p.i-d > 15 {
			return Item{}, p.errf("bad integer")
		}
		if p.i < len(p.s) && p.s[p.i] == '.' {
			return Item{}, p.errf("decimals are not supported")
		}
		n, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
		if err != nil {
			return Item{}, p.errf("bad integer")
		}
		return Item{Kind: KindInteger, Int: n}, nil
	case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '*':
		start := p.i
		for p.i < len(p.s) && (isTChar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/') {
			p.i++
		}
		return Item{Kind: KindToken, Str: p.s[start:p.i]}, nil
	}
	return Item{}, p.errf("unexpected %q", c)
}

func (p *sfParser) str() (Item, error) {
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.i >= len(p.s) || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
				return Item{}, p.errf("bad escape")
			}
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '"':
			return Item{Kind: KindString, Str: b.String()}, nil
		case c < 0x20 || c > 0x7e:
			return Item{}, p.errf("non-printable character in string")
		default:
			b.WriteByte(c)
		}
	}
	return Item{}, p.errf("unterminated string")
}

func isTChar(c byte) bool {
	if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func sha512Sum(b []byte) [64]byte { return sha512.Sum512(b) }
