package docs

// A reader for the parts of Markdown the twin check compares: links,
// anchors (headings with GitHub's slugs, explicit <a id>), and the shell
// commands in code blocks. It is deliberately small: the documents are
// ours, and the check runs on both twins with the same rules.

import (
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// mdDoc is what the check knows of one document.
type mdDoc struct {
	path     string
	links    []mdLink        // relative links, in order
	anchors  map[string]bool // heading slugs and explicit ids
	ids      map[string]bool // explicit ids only (<a id="…">)
	commands []string        // shell commands in code blocks, normalised
}

// mdLink is a relative link resolved against its document: file is a
// slash-separated path from the repository root, anchor the fragment
// (unescaped), line the 1-based line of the link.
type mdLink struct {
	file, anchor string
	line         int
}

var (
	// inline links and images: [text](target) or [text](target "title")
	linkRE = regexp.MustCompile(`\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)`)
	// explicit anchors: <a id="x"></a> or <a name="x">
	anchorRE = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
	headRE   = regexp.MustCompile(`^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
	fenceRE  = regexp.MustCompile("^ {0,3}(```+|~~~+)")
	codeRE   = regexp.MustCompile("`+[^`]*`+")
	// a link inside a heading: its text counts
	headLinkRE = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	schemeRE   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
	// a madoguchi invocation in command position: at the start, or after
	// $( ( ; & | (go run ./cmd/madoguchi starts with go)
	invokeRE = regexp.MustCompile(`(?:^|[$;&|]?\(\s*|[;&|]\s*)(?:\./)?madoguchi(?:\s|$|\))`)
)

// parseMarkdown reads one document at path (slash-separated, from the
// repository root).
func parseMarkdown(p string, src []byte) mdDoc {
	d := mdDoc{path: p, anchors: map[string]bool{}, ids: map[string]bool{}}
	slugs := map[string]int{}
	lines := strings.Split(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n")
	var (
		fence    string // the open fence's marker, "" outside a fenced block
		inIndent bool   // inside an indented code block
		prevText bool   // the previous line was paragraph text
		pending  string // a command continued with a trailing backslash
	)
	flush := func() {
		if c := normaliseCommand(pending); c != "" {
			d.commands = append(d.commands, c)
		}
		pending = ""
	}
	code := func(line string) {
		s := strings.TrimSpace(stripComment(line))
		if strings.HasSuffix(s, `\`) {
			pending += strings.TrimSuffix(s, `\`) + " "
			return
		}
		pending += s
		flush()
	}
	for i, line := range lines {
		if fence != "" {
			if m := fenceRE.FindStringSubmatch(line); m != nil && strings.HasPrefix(m[1], fence[:1]) && len(m[1]) >= len(fence) && strings.TrimSpace(line[strings.Index(line, m[1])+len(m[1]):]) == "" {
				fence = ""
				flush()
				continue
			}
			code(line)
			continue
		}
		if m := fenceRE.FindStringSubmatch(line); m != nil {
			fence, inIndent, prevText = m[1], false, false
			flush()
			continue
		}
		blank := strings.TrimSpace(line) == ""
		indented := strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "\t")
		if !blank && indented && (inIndent || !prevText) {
			inIndent = true
			code(line)
			continue
		}
		if inIndent && !blank {
			inIndent = false
			flush()
		}
		if blank {
			prevText = false
			continue
		}
		prevText = true
		for _, m := range anchorRE.FindAllStringSubmatch(line, -1) {
			d.anchors[m[1]] = true
			d.ids[m[1]] = true
		}
		text := codeRE.ReplaceAllStringFunc(line, func(s string) string { return strings.Repeat(" ", len(s)) })
		if m := headRE.FindStringSubmatch(line); m != nil {
			s := slug(m[2])
			if n := slugs[s]; n > 0 {
				d.anchors[s+"-"+strconv.Itoa(n)] = true
			} else {
				d.anchors[s] = true
			}
			slugs[s]++
			prevText = false
		}
		for _, m := range linkRE.FindAllStringSubmatch(text, -1) {
			if l, ok := resolveLink(p, m[1]); ok {
				l.line = i + 1
				d.links = append(d.links, l)
			}
		}
	}
	flush()
	return d
}

// resolveLink resolves target against the document at from; ok is false
// for external links (a scheme, or //host) and empty targets.
func resolveLink(from, target string) (mdLink, bool) {
	if target == "" || schemeRE.MatchString(target) || strings.HasPrefix(target, "//") {
		return mdLink{}, false
	}
	file, anchor, _ := strings.Cut(target, "#")
	if a, err := url.PathUnescape(anchor); err == nil {
		anchor = a
	}
	if f, err := url.PathUnescape(file); err == nil {
		file = f
	}
	switch {
	case file == "":
		file = from
	case strings.HasPrefix(file, "/"):
		file = path.Clean(strings.TrimPrefix(file, "/"))
	default:
		file = path.Join(path.Dir(from), file)
	}
	return mdLink{file: file, anchor: anchor}, true
}

// slug is GitHub's heading anchor: the rendered text lower-cased, every
// character but letters, digits, marks, spaces, '-' and '_' dropped, spaces
// turned into '-'.
func slug(heading string) string {
	h := headLinkRE.ReplaceAllString(heading, "$1") // a link's text
	h = strings.NewReplacer("`", "", "*", "").Replace(h)
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// stripComment drops a shell comment: a '#' at the start or after a space,
// outside quotes.
func stripComment(line string) string {
	var q rune
	prev := ' '
	for i, r := range line {
		switch {
		case q != 0:
			if r == q {
				q = 0
			}
		case r == '\'' || r == '"':
			q = r
		case r == '#' && unicode.IsSpace(prev):
			return line[:i]
		}
		prev = r
	}
	return line
}

// normaliseCommand returns a code line if it is a command the twins must
// share (a madoguchi invocation, or a go command), with runs of spaces
// collapsed; "" otherwise.
func normaliseCommand(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return ""
	}
	if strings.HasPrefix(s, "go ") || invokeRE.MatchString(s) {
		return s
	}
	return ""
}
