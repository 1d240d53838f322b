package audit

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Text formats for proofs handed to people and offline verifiers.
//
// An inclusion proof is a C2SP tlog-proof (c2sp.org/tlog-proof@v1) whose
// extra data is the entry's canonical leaf, so the file alone shows what was
// logged and proves it against the log's key:
//
//	c2sp.org/tlog-proof@v1
//	extra <base64 leaf>
//	index <N>
//	<base64 hash>            (zero or more, leaf's sibling first)
//
//	<signed checkpoint, verbatim>
//
// A consistency proof is a Madoguchi text format:
//
//	madoguchi.audit/consistency-proof@v1
//	old <M>
//	new <N>
//	<base64 hash>            (zero or more, RFC 9162 order)
const (
	inclusionHeader   = "c2sp.org/tlog-proof@v1"
	consistencyHeader = "madoguchi.audit/consistency-proof@v1"
	// MaxProofFileLen bounds a proof file read from outside.
	MaxProofFileLen = 64 << 10
)

// InclusionProofFile is a parsed tlog-proof.
type InclusionProofFile struct {
	Leaf       []byte // the "extra" line: the entry's canonical leaf
	Index      uint64
	Proof      [][]byte
	Checkpoint []byte // signed note, verbatim
}

// FormatInclusionProof writes a tlog-proof for the leaf at index against a
// signed checkpoint.
func FormatInclusionProof(p InclusionProofFile) []byte {
	var b bytes.Buffer
	b.WriteString(inclusionHeader + "\n")
	if len(p.Leaf) > 0 {
		b.WriteString("extra " + base64.StdEncoding.EncodeToString(p.Leaf) + "\n")
	}
	fmt.Fprintf(&b, "index %d\n", p.Index)
	for _, h := range p.Proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	b.WriteString("\n")
	b.Write(p.Checkpoint)
	return b.Bytes()
}

// ParseInclusionProof parses a tlog-proof. It checks the syntax only; use
// VerifyInclusionProof to check it.
func ParseInclusionProof(b []byte) (InclusionProofFile, error) {
	var p InclusionProofFile
	if len(b) > MaxProofFileLen {
		return p, fmt.Errorf("%w: proof file is %d bytes, limit %d", ErrProof, len(b), MaxProofFileLen)
	}
	head, cp, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok || len(cp) == 0 {
		return p, fmt.Errorf("%w: no checkpoint after the proof lines", ErrProof)
	}
	lines := strings.Split(string(head), "\n")
	if lines[0] != inclusionHeader {
		return p, fmt.Errorf("%w: first line is not %s", ErrProof, inclusionHeader)
	}
	lines = lines[1:]
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		leaf, err := base64.StdEncoding.Strict().DecodeString(lines[0][len("extra "):])
		if err != nil || len(leaf) == 0 {
			return p, fmt.Errorf("%w: extra line is not base64", ErrProof)
		}
		p.Leaf = leaf
		lines = lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return p, fmt.Errorf("%w: no index line", ErrProof)
	}
	idx, err := parseDecimal(lines[0][len("index "):])
	if err != nil {
		return p, err
	}
	p.Index = idx
	if p.Proof, err = parseHashLines(lines[1:]); err != nil {
		return p, err
	}
	p.Checkpoint = cp
	return p, nil
}

// VerifyInclusionProof checks a tlog-proof file end to end: the checkpoint
// is signed by verifierKey for its origin, the leaf in the extra line is a
// valid Entry, and the proof places it at the index in that checkpoint's
// tree. It returns the entry and the checkpoint.
func VerifyInclusionProof(b []byte, verifierKey string) (Entry, Checkpoint, error) {
	p, err := ParseInclusionProof(b)
	if err != nil {
		return Entry{}, Checkpoint{}, err
	}
	cp, err := VerifyCheckpoint(p.Checkpoint, verifierKey)
	if err != nil {
		return Entry{}, Checkpoint{}, err
	}
	if len(p.Leaf) == 0 {
		return Entry{}, cp, fmt.Errorf("%w: no leaf (extra line) to check", ErrProof)
	}
	e, err := ParseLeaf(p.Leaf)
	if err != nil {
		return Entry{}, cp, err
	}
	if err := VerifyInclusion(LeafHash(p.Leaf), p.Index, cp.Size, p.Proof, cp.Root); err != nil {
		return Entry{}, cp, err
	}
	return e, cp, nil
}

// FormatConsistencyProof writes a consistency proof file.
func FormatConsistencyProof(oldSize, newSize uint64, proof [][]byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nold %d\nnew %d\n", consistencyHeader, oldSize, newSize)
	for _, h := range proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	return b.Bytes()
}

// ParseConsistencyProof parses a consistency proof file.
func ParseConsistencyProof(b []byte) (oldSize, newSize uint64, proof [][]byte, err error) {
	if len(b) > MaxProofFileLen {
		return 0, 0, nil, fmt.Errorf("%w: proof file is %d bytes, limit %d", ErrProof, len(b), MaxProofFileLen)
	}
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return 0, 0, nil, fmt.Errorf("%w: proof file does not end in a newline", ErrProof)
	}
	lines := strings.Split(string(b[:len(b)-1]), "\n")
	if len(lines) < 3 || lines[0] != consistencyHeader ||
		!strings.HasPrefix(lines[1], "old ") || !strings.HasPrefix(lines[2], "new ") {
		return 0, 0, nil, fmt.Errorf("%w: not a %s file", ErrProof, consistencyHeader)
	}
	if oldSize, err = parseDecimal(lines[1][len("old "):]); err != nil {
		return 0, 0, nil, err
	}
	if newSize, err = parseDecimal(lines[2][len("new "):]); err != nil {
		return 0, 0, nil, err
	}
	if proof, err = parseHashLines(lines[3:]); err != nil {
		return 0, 0, nil, err
	}
	return oldSize, newSize, proof, nil
}

func parseDecimal(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil || strconv.FormatUint(n, 10) != s {
		return 0, fmt.Errorf("%w: %q is not a canonical decimal", ErrProof, s)
	}
	return n, nil
}

func parseHashLines(lines []string) ([][]byte, error) {
	if len(lines) > MaxProofHashes {
		return nil, fmt.Errorf("%w: %d hashes, limit %d", ErrProof, len(lines), MaxProofHashes)
	}
	out := make([][]byte, 0, len(lines))
	for i, l := range lines {
		h, err := base64.StdEncoding.Strict().DecodeString(l)
		if err != nil || len(h) != 32 {
			return nil, fmt.Errorf("%w: proof line %d is not a base64 SHA-256 hash", ErrProof, i+1)
		}
		out = append(out, h)
	}
	return out, nil
}
