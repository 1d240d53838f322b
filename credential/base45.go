package credential

// Base45 (RFC 9285): QR alphanumeric-mode text for binary data, as the EU
// Digital COVID Certificate uses it. Two bytes become three characters,
// a last odd byte two; decoding refuses characters outside the alphabet,
// values over 0xFFFF (or 0xFF for a final pair) and a dangling character.

import "fmt"

const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

var base45Index = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := range len(base45Alphabet) {
		t[base45Alphabet[i]] = int8(i)
	}
	return t
}()

func base45Encode(b []byte) string {
	out := make([]byte, 0, len(b)/2*3+2)
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])<<8 | int(b[i+1])
		out = append(out, base45Alphabet[n%45], base45Alphabet[n/45%45], base45Alphabet[n/2025])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		out = append(out, base45Alphabet[n%45], base45Alphabet[n/45])
	}
	return string(out)
}

func base45Decode(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, fmt.Errorf("%w: base45 length %d", ErrMalformed, len(s))
	}
	out := make([]byte, 0, len(s)/3*2+1)
	for i := 0; i < len(s); i += 3 {
		var v [3]int
		n := min(3, len(s)-i)
		for j := range n {
			d := base45Index[s[i+j]]
			if d < 0 {
				return nil, fmt.Errorf("%w: base45 character at %d", ErrMalformed, i+j)
			}
			v[j] = int(d)
		}
		x := v[0] + v[1]*45 + v[2]*2025
		if n == 3 {
			if x > 0xffff {
				return nil, fmt.Errorf("%w: base45 triple at %d", ErrMalformed, i)
			}
			out = append(out, byte(x>>8), byte(x))
		} else {
			if x > 0xff {
				return nil, fmt.Errorf("%w: base45 pair at %d", ErrMalformed, i)
			}
			out = append(out, byte(x))
		}
	}
	return out, nil
}
