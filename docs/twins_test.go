package docs

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// jaSuffix names a Japanese twin: NAME.ja.md beside NAME.md.
const jaSuffix = ".ja.md"

// twinGlobs are where Japanese documents live; docGlobs are all the
// documents whose links must resolve.
var (
	twinGlobs = []string{"*" + jaSuffix, "docs/*" + jaSuffix}
	docGlobs  = []string{"*.md", "docs/*.md"}
)

// english returns the English twin's path of a Japanese document, and
// maps any other path to itself.
func english(p string) string {
	if strings.HasSuffix(p, jaSuffix) {
		return strings.TrimSuffix(p, jaSuffix) + ".md"
	}
	return p
}

// japanese returns the Japanese twin's path of an English document.
func japanese(p string) string { return strings.TrimSuffix(p, ".md") + jaSuffix }

// checkTwins returns every way the Japanese documents of fsys (a
// repository root) drift from their English twins, and every relative link
// of any document (docGlobs) that does not resolve; none means all is well.
func checkTwins(fsys fs.FS) ([]string, error) {
	var jas []string
	for _, g := range twinGlobs {
		m, err := fs.Glob(fsys, g)
		if err != nil {
			return nil, err
		}
		jas = append(jas, m...)
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	docs := map[string]mdDoc{}
	load := func(p string) (mdDoc, bool) {
		if d, ok := docs[p]; ok {
			return d, true
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return mdDoc{}, false
		}
		docs[p] = parseMarkdown(p, b)
		return docs[p], true
	}
	exists := func(p string) bool { _, err := fs.Stat(fsys, p); return err == nil }

	for _, jp := range jas {
		ep := english(jp)
		ja, _ := load(jp)
		en, ok := load(ep)
		if !ok {
			add("%s: no English twin %s", jp, ep)
			continue
		}
		// Each links to the other.
		if !slices.ContainsFunc(en.links, func(l mdLink) bool { return l.file == jp }) {
			add("%s: does not link to its Japanese twin %s", ep, jp)
		}
		if !slices.ContainsFunc(ja.links, func(l mdLink) bool { return l.file == ep }) {
			add("%s: does not link to its English twin %s", jp, ep)
		}
		// The Japanese side links to Japanese twins where they exist.
		for _, l := range ja.links {
			if l.file != ep && !strings.HasSuffix(l.file, jaSuffix) && exists(japanese(l.file)) && strings.HasSuffix(l.file, ".md") {
				add("%s:%d: links to %s; its Japanese twin %s exists", jp, l.line, l.file, japanese(l.file))
			}
		}
		// The same targets, sections and commands.
		target := func(l mdLink) string {
			if l.anchor == "" {
				return english(l.file)
			}
			return english(l.file) + "#" + l.anchor
		}
		diff(add, ep, jp, "link to", mapSet(en.links, target), mapSet(ja.links, target))
		diff(add, ep, jp, "section id", en.ids, ja.ids)
		diff(add, ep, jp, "command", mapSet(en.commands, func(c string) string { return c }), mapSet(ja.commands, func(c string) string { return c }))
	}
	// Every relative link of every document resolves.
	var all []string
	for _, g := range docGlobs {
		m, err := fs.Glob(fsys, g)
		if err != nil {
			return nil, err
		}
		all = append(all, m...)
	}
	for _, p := range all {
		d, ok := load(p)
		if !ok {
			continue
		}
		for _, l := range d.links {
			if !exists(l.file) {
				add("%s:%d: link to missing file %s", p, l.line, l.file)
				continue
			}
			if l.anchor == "" || path.Ext(l.file) != ".md" {
				continue
			}
			if t, _ := load(l.file); !t.anchors[l.anchor] {
				add("%s:%d: link to missing section %s#%s", p, l.line, l.file, l.anchor)
			}
		}
	}
	slices.Sort(problems)
	return slices.Compact(problems), nil
}

// diff reports what one twin has and the other lacks.
func diff(add func(string, ...any), ep, jp, what string, en, ja map[string]bool) {
	for _, k := range sortedKeys(en) {
		if !ja[k] {
			add("%s: missing %s %s (%s has it)", jp, what, k, ep)
		}
	}
	for _, k := range sortedKeys(ja) {
		if !en[k] {
			add("%s: %s %s that %s lacks", jp, what, k, ep)
		}
	}
}

func mapSet[T any](xs []T, f func(T) string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[f(x)] = true
	}
	return m
}

func sortedKeys(m map[string]bool) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestTwins checks the repository's own documents.
func TestTwins(t *testing.T) {
	problems, err := checkTwins(os.DirFS(".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) > 0 {
		t.Log("a Japanese twin (NAME.ja.md) changes with its English document; the rules are in docs/doc.go")
	}
	n := 0
	for _, g := range twinGlobs {
		m, _ := fs.Glob(os.DirFS(".."), g)
		n += len(m)
	}
	if n == 0 {
		t.Error("no Japanese documents found: the check compared nothing")
	}
}

// A consistent pair of twins, and the ways they drift.
var twinBase = fstest.MapFS{
	"README.md": {Data: []byte(`# Tool

[日本語](README.ja.md)

Run it:

    madoguchi serve --data DIR    # the server
    go test ./...

See [rotation](docs/ops.md#key-rotation) and [the API](docs/api.md#errors).
`)},
	"README.ja.md": {Data: []byte(`# ツール

[English](README.md)

起動:

    madoguchi serve --data DIR    # サーバー
    go test ./...

[鍵のローテーション](docs/ops.ja.md#key-rotation)、[API](docs/api.md#errors)。
`)},
	"docs/ops.md":    {Data: []byte("# Operations\n\n[日本語](ops.ja.md)\n\n<a id=\"key-rotation\"></a>\n## Key rotation\n\n```sh\nmadoguchi keys rotate \\\n    --as alice   # files a request\n```\n")},
	"docs/ops.ja.md": {Data: []byte("# 運用\n\n[English](ops.md)\n\n<a id=\"key-rotation\"></a>\n## 鍵のローテーション\n\n```sh\nmadoguchi keys rotate --as alice   # 申請\n```\n")},
	"docs/api.md":    {Data: []byte("# API\n\n## Errors\n")},
}

func TestCheckTwinsDrift(t *testing.T) {
	tests := []struct {
		name string
		edit func(fstest.MapFS)
		want []string // each is in some problem; none: no problems
	}{
		{name: "consistent"},
		{
			name: "a link dropped",
			edit: func(m fstest.MapFS) { replace(m, "README.ja.md", "、[API](docs/api.md#errors)", "") },
			want: []string{"README.ja.md: missing link to docs/api.md#errors (README.md has it)"},
		},
		{
			name: "a link to another section",
			edit: func(m fstest.MapFS) { replace(m, "README.ja.md", "api.md#errors", "api.md#api") },
			want: []string{"missing link to docs/api.md#errors", "link to docs/api.md#api that README.md lacks"},
		},
		{
			name: "a link to a missing heading",
			edit: func(m fstest.MapFS) {
				replace(m, "README.md", "api.md#errors", "api.md#error")
				replace(m, "README.ja.md", "api.md#errors", "api.md#error")
			},
			want: []string{"README.md:10: link to missing section docs/api.md#error", "README.ja.md:10: link to missing section docs/api.md#error"},
		},
		{
			name: "a link to a missing file",
			edit: func(m fstest.MapFS) { delete(m, "docs/api.md") },
			want: []string{"link to missing file docs/api.md"},
		},
		{
			name: "the English document where a Japanese twin exists",
			edit: func(m fstest.MapFS) { replace(m, "README.ja.md", "docs/ops.ja.md", "docs/ops.md") },
			want: []string{"README.ja.md:10: links to docs/ops.md; its Japanese twin docs/ops.ja.md exists"},
		},
		{
			name: "an explicit section id dropped",
			edit: func(m fstest.MapFS) { replace(m, "docs/ops.ja.md", "<a id=\"key-rotation\"></a>\n", "") },
			want: []string{"docs/ops.ja.md: missing section id key-rotation", "link to missing section docs/ops.ja.md#key-rotation"},
		},
		{
			name: "a flag changed in a command",
			edit: func(m fstest.MapFS) { replace(m, "docs/ops.ja.md", "--as alice", "--as bob") },
			want: []string{"missing command madoguchi keys rotate --as alice", "command madoguchi keys rotate --as bob that docs/ops.md lacks"},
		},
		{
			name: "a command dropped",
			edit: func(m fstest.MapFS) { replace(m, "README.ja.md", "    go test ./...\n", "") },
			want: []string{"README.ja.md: missing command go test ./... (README.md has it)"},
		},
		{
			name: "no cross-link",
			edit: func(m fstest.MapFS) { replace(m, "docs/ops.md", "[日本語](ops.ja.md)", "") },
			want: []string{"docs/ops.md: does not link to its Japanese twin docs/ops.ja.md"},
		},
		{
			name: "a broken link in a document without a twin",
			edit: func(m fstest.MapFS) {
				m["docs/api.md"].Data = []byte("# API\n\n## Errors\n\nSee [ops](ops.md#rotation).\n")
			},
			want: []string{"docs/api.md:5: link to missing section docs/ops.md#rotation"},
		},
		{
			name: "no English twin",
			edit: func(m fstest.MapFS) { m["docs/new.ja.md"] = &fstest.MapFile{Data: []byte("# 新規\n")} },
			want: []string{"docs/new.ja.md: no English twin docs/new.md"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fstest.MapFS{}
			for k, v := range twinBase {
				m[k] = &fstest.MapFile{Data: slices.Clone(v.Data)}
			}
			if tt.edit != nil {
				tt.edit(m)
			}
			got, err := checkTwins(m)
			if err != nil {
				t.Fatal(err)
			}
			if len(tt.want) == 0 && len(got) > 0 {
				t.Errorf("checkTwins = %q, want no problems", got)
			}
			if len(tt.want) > 0 && len(got) == 0 {
				t.Errorf("checkTwins = no problems, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, w) }) {
					t.Errorf("checkTwins = %q, want a problem containing %q", got, w)
				}
			}
		})
	}
}

// replace edits one file of m; the edit must apply.
func replace(m fstest.MapFS, name, old, new string) {
	s := string(m[name].Data)
	if !strings.Contains(s, old) {
		panic(fmt.Sprintf("%s does not contain %q", name, old))
	}
	m[name].Data = []byte(strings.Replace(s, old, new, 1))
}

func TestParseMarkdown(t *testing.T) {
	src := "# Title\n\n" +
		"See [a](b.md#x \"t\"), [c](https://example.com), `[not](a-link.md)` and [d](#title).\n\n" +
		"## Administration (`/portal/admin`)\n\n## Records (確認記録)\n\n## Records (確認記録)\n\n" +
		"<a id=\"explicit\"></a>\n\n" +
		"    ./madoguchi dev session --name \"見本 #1\" \\\n        --method he   # a comment\n" +
		"    curl -s localhost:8080/readyz\n    \"madoguchi-data is not a command\"\n\n" +
		"```\neval \"$(./madoguchi dev client --env)\"\n# only a comment\n" +
		" service ──(1) create──▶  madoguchi  ◀── customer\n```\n\n" +
		"    not code: it follows a paragraph line directly\n"
	d := parseMarkdown("docs/x.md", []byte(src))
	wantLinks := []mdLink{{file: "docs/b.md", anchor: "x", line: 3}, {file: "docs/x.md", anchor: "title", line: 3}}
	if !slices.Equal(d.links, wantLinks) {
		t.Errorf("links = %+v, want %+v", d.links, wantLinks)
	}
	for _, a := range []string{"title", "administration-portaladmin", "records-確認記録", "records-確認記録-1", "explicit"} {
		if !d.anchors[a] {
			t.Errorf("anchors = %v, want %q among them", sortedKeys(d.anchors), a)
		}
	}
	if !d.ids["explicit"] || len(d.ids) != 1 {
		t.Errorf("ids = %v, want only explicit", d.ids)
	}
	wantCmds := []string{`./madoguchi dev session --name "見本 #1" --method he`, `eval "$(./madoguchi dev client --env)"`}
	if !slices.Equal(d.commands, wantCmds) {
		t.Errorf("commands = %q, want %q", d.commands, wantCmds)
	}
}

func FuzzParseMarkdown(f *testing.F) {
	for _, v := range twinBase {
		f.Add(string(v.Data))
	}
	f.Add("```\nmadoguchi x \\\n")
	f.Fuzz(func(t *testing.T, src string) {
		d := parseMarkdown("docs/f.md", []byte(src))
		for _, l := range d.links {
			if l.file == "" || l.file != path.Clean(l.file) {
				t.Errorf("link file %q is not a clean path", l.file)
			}
		}
		for _, c := range d.commands {
			if c != strings.Join(strings.Fields(c), " ") {
				t.Errorf("command %q is not normalised", c)
			}
		}
	})
}
