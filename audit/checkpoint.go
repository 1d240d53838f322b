package audit

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// ErrCheckpoint reports a checkpoint or signed note that is malformed, not
// signed by the expected key, or whose origin is not the key's name.
var ErrCheckpoint = errors.New("audit: bad checkpoint")

// MaxCheckpointLen bounds a signed checkpoint accepted from outside.
const MaxCheckpointLen = 16 << 10

// Checkpoint is a C2SP tlog-checkpoint body: the log's origin, the tree size
// and the RFC 6962 root hash of the first Size leaves.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   [32]byte
	// Extensions are optional extra lines; this log writes none.
	Extensions []string
}

// Text returns the checkpoint's note text:
//
//	<origin>\n<size>\n<base64 root>\n[<extension>\n]*
func (c Checkpoint) Text() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
	for _, e := range c.Extensions {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ParseCheckpoint parses a checkpoint note text (without signatures) per
// C2SP tlog-checkpoint: a non-empty origin, a decimal size without leading
// zeros, a base64 32-byte root, then optional non-empty extension lines,
// every line ending in a newline.
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	var c Checkpoint
	if len(text) > MaxCheckpointLen {
		return c, fmt.Errorf("%w: %d bytes, limit %d", ErrCheckpoint, len(text), MaxCheckpointLen)
	}
	if !utf8.Valid(text) || len(text) == 0 || text[len(text)-1] != '\n' {
		return c, fmt.Errorf("%w: text is not newline-terminated UTF-8", ErrCheckpoint)
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 3 {
		return c, fmt.Errorf("%w: %d lines, want at least 3", ErrCheckpoint, len(lines))
	}
	for _, l := range lines {
		if l == "" {
			return c, fmt.Errorf("%w: empty line", ErrCheckpoint)
		}
	}
	c.Origin = lines[0]
	if strings.IndexFunc(c.Origin, unicode.IsSpace) >= 0 {
		return c, fmt.Errorf("%w: origin contains a space", ErrCheckpoint)
	}
	n, err := strconv.ParseUint(lines[1], 10, 63)
	if err != nil || strconv.FormatUint(n, 10) != lines[1] {
		return c, fmt.Errorf("%w: size is not a canonical decimal", ErrCheckpoint)
	}
	c.Size = n
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return c, fmt.Errorf("%w: root is not a base64 SHA-256 hash", ErrCheckpoint)
	}
	copy(c.Root[:], root)
	if len(lines) > 3 {
		c.Extensions = lines[3:]
	}
	return c, nil
}

// SignCheckpoint signs c as a C2SP signed note with s. c.Origin must be the
// signer's name.
func SignCheckpoint(c Checkpoint, s *Signer) ([]byte, error) {
	if c.Origin != s.Name() {
		return nil, fmt.Errorf("%w: origin %q is not the signer's name %q", ErrCheckpoint, c.Origin, s.Name())
	}
	msg, err := note.Sign(&note.Note{Text: string(c.Text())}, s.s)
	if err != nil {
		return nil, fmt.Errorf("audit: sign checkpoint: %w", err)
	}
	return msg, nil
}

// VerifyCheckpoint opens a signed checkpoint note and checks that it carries
// a valid signature by verifierKey ("name+hash+base64key") and that its
// origin equals the key's name. Signatures by other keys (witness
// cosignatures) are ignored, as the signed-note spec requires.
func VerifyCheckpoint(signed []byte, verifierKey string) (Checkpoint, error) {
	if len(signed) > MaxCheckpointLen {
		return Checkpoint{}, fmt.Errorf("%w: %d bytes, limit %d", ErrCheckpoint, len(signed), MaxCheckpointLen)
	}
	v, err := note.NewVerifier(strings.TrimSpace(verifierKey))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: verifier key: %v", ErrCheckpoint, err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("%w: origin %q is not the key's name %q", ErrCheckpoint, c.Origin, v.Name())
	}
	return c, nil
}

// CheckNotRolledBack returns ErrRollback if next is smaller than prev, the
// largest checkpoint already seen for the same origin: a log never shrinks.
// It does not prove consistency; use VerifyConsistency for that.
func CheckNotRolledBack(prev, next Checkpoint) error {
	if prev.Origin != next.Origin {
		return fmt.Errorf("%w: origin %q, previously %q", ErrCheckpoint, next.Origin, prev.Origin)
	}
	if next.Size < prev.Size {
		return fmt.Errorf("%w: checkpoint size %d is below the %d already seen", ErrRollback, next.Size, prev.Size)
	}
	if next.Size == prev.Size && next.Root != prev.Root {
		return fmt.Errorf("%w: two different roots for size %d", ErrTampered, next.Size)
	}
	return nil
}
