// Package i18n is the portal's message catalogue: every word the portal
// shows comes from ja/*.json or en/*.json under a key. Each area of the
// portal has its own file with the same name in both directories (core.json
// for the frame, sign-in and account; one file per later area), so areas are
// added without editing each other's files. Japanese is the default
// language; English is complete.
//
// Invariants (checked by Load, so a server with a broken catalogue does not
// start): both languages have the same files and exactly the same keys, a
// key is defined in one file only, no message is empty, and a message's
// %[n]s placeholders are the same in both languages.
// Looking up an unknown key is an error, never the raw key: the portal's
// templates fail to render rather than show one.
package i18n

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Lang is a supported language.
type Lang string

// Languages.
const (
	Ja Lang = "ja"
	En Lang = "en"
)

// Default is the language used unless the person chose another.
const Default = Ja

// Languages lists the supported languages, the default first.
func Languages() []Lang { return []Lang{Ja, En} }

// Parse returns the language named by s, or Default and false.
func Parse(s string) (Lang, bool) {
	switch Lang(s) {
	case Ja:
		return Ja, true
	case En:
		return En, true
	}
	return Default, false
}

//go:embed ja/*.json en/*.json
var files embed.FS

// ErrUnknownKey is returned for a key the catalogue does not have.
var ErrUnknownKey = errors.New("i18n: unknown message key")

// Catalog holds the messages of every language.
type Catalog struct {
	m map[Lang]map[string]string
}

var placeholderRE = regexp.MustCompile(`%\[[0-9]\][sd]`)

// Load reads and checks the embedded catalogue.
func Load() (*Catalog, error) {
	return load(files)
}

// load reads every language's area files from fsys and merges them.
func load(fsys fs.FS) (*Catalog, error) {
	m := map[Lang]map[string]string{}
	var areas []string
	for _, l := range Languages() {
		names, err := fs.Glob(fsys, string(l)+"/*.json")
		if err != nil {
			return nil, err
		}
		for i, n := range names {
			names[i] = path.Base(n)
		}
		if l == Default {
			areas = names
		} else if !slices.Equal(names, areas) {
			return nil, fmt.Errorf("i18n: %s has files %v but %s has %v", l, names, Default, areas)
		}
		msgs := map[string]string{}
		from := map[string]string{}
		for _, n := range names {
			b, err := fs.ReadFile(fsys, string(l)+"/"+n)
			if err != nil {
				return nil, err
			}
			var area map[string]string
			if err := json.Unmarshal(b, &area); err != nil {
				return nil, fmt.Errorf("i18n: %s/%s: %w", l, n, err)
			}
			for k, v := range area {
				if prev, dup := from[k]; dup {
					return nil, fmt.Errorf("i18n: key %q is in both %s/%s and %s/%s", k, l, prev, l, n)
				}
				from[k] = n
				msgs[k] = v
			}
		}
		m[l] = msgs
	}
	return newCatalog(m)
}

// newCatalog checks the invariants: the same keys in every language, no
// empty message, the same placeholders.
func newCatalog(m map[Lang]map[string]string) (*Catalog, error) {
	ref, ok := m[Default]
	if !ok || len(ref) == 0 {
		return nil, fmt.Errorf("i18n: no %s messages", Default)
	}
	for _, l := range Languages() {
		msgs, ok := m[l]
		if !ok {
			return nil, fmt.Errorf("i18n: no %s messages", l)
		}
		for k, v := range msgs {
			if strings.TrimSpace(v) == "" {
				return nil, fmt.Errorf("i18n: %s: key %q is empty", l, k)
			}
			if _, ok := ref[k]; !ok {
				return nil, fmt.Errorf("i18n: key %q is in %s but not in %s", k, l, Default)
			}
			a, b := placeholderRE.FindAllString(v, -1), placeholderRE.FindAllString(ref[k], -1)
			slices.Sort(a)
			slices.Sort(b)
			if !slices.Equal(a, b) {
				return nil, fmt.Errorf("i18n: key %q has placeholders %v in %s but %v in %s", k, a, l, b, Default)
			}
		}
		for k := range ref {
			if _, ok := msgs[k]; !ok {
				return nil, fmt.Errorf("i18n: key %q is in %s but not in %s", k, Default, l)
			}
		}
	}
	return &Catalog{m: m}, nil
}

// Has reports whether key exists.
func (c *Catalog) Has(key string) bool {
	_, ok := c.m[Default][key]
	return ok
}

// Keys returns every key, sorted.
func (c *Catalog) Keys() []string { return slices.Sorted(maps.Keys(c.m[Default])) }

// T returns the message for key in lang, with %[n]s placeholders filled
// from args.
func (c *Catalog) T(lang Lang, key string, args ...any) (string, error) {
	m, ok := c.m[lang]
	if !ok {
		m = c.m[Default]
	}
	v, ok := m[key]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownKey, key)
	}
	if len(args) == 0 {
		return v, nil
	}
	return fmt.Sprintf(v, args...), nil
}
