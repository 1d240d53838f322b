package cms

import "fmt"

// BERToDER re-encodes one BER element as DER as far as CMS needs: indefinite
// lengths become definite, long-form lengths become minimal, and
// constructed OCTET STRINGs (tag 0x24) become primitive. It does not sort
// SET OF members nor touch primitive contents. Nesting is bounded by
// MaxDepth; the output is never larger than the input plus length growth
// bounded by the element count.
func BERToDER(b []byte) ([]byte, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	out, rest, err := berElement(nil, b, 0)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, malformed("trailing data after BER element")
	}
	return out, nil
}

// berElement appends the DER form of the first element of b to dst.
func berElement(dst, b []byte, depth int) ([]byte, []byte, error) {
	if depth > MaxDepth {
		return nil, nil, malformed("BER nesting too deep")
	}
	// identifier octets
	if len(b) == 0 {
		return nil, nil, malformed("BER: truncated tag")
	}
	n := 1
	if b[0]&0x1F == 0x1F {
		for {
			if n >= len(b) || n > 4 {
				return nil, nil, malformed("BER: bad tag")
			}
			n++
			if b[n-1]&0x80 == 0 {
				break
			}
		}
	}
	tag := b[:n]
	constructed := b[0]&0x20 != 0
	b = b[n:]
	if len(b) == 0 {
		return nil, nil, malformed("BER: truncated length")
	}
	var content []byte
	indefinite := false
	switch l := b[0]; {
	case l < 0x80:
		b = b[1:]
		if int(l) > len(b) {
			return nil, nil, malformed("BER: length exceeds data")
		}
		content, b = b[:l], b[l:]
	case l == 0x80:
		if !constructed {
			return nil, nil, malformed("BER: indefinite length on primitive")
		}
		indefinite = true
		content, b = b[1:], nil
	default:
		k := int(l & 0x7F)
		if k > 4 || k+1 > len(b) {
			return nil, nil, malformed("BER: bad length")
		}
		var v uint64
		for _, c := range b[1 : 1+k] {
			v = v<<8 | uint64(c)
		}
		b = b[1+k:]
		if v > uint64(len(b)) {
			return nil, nil, malformed("BER: length exceeds data")
		}
		content, b = b[:v], b[v:]
	}
	if !constructed {
		return appendTLV(dst, tag, content), b, nil
	}
	// constructed: convert children into a scratch buffer
	var body []byte
	octets := len(tag) == 1 && tag[0] == 0x24
	for {
		if indefinite {
			if len(content) < 2 {
				return nil, nil, malformed("BER: missing end-of-contents")
			}
			if content[0] == 0 && content[1] == 0 {
				b = content[2:]
				break
			}
		} else if len(content) == 0 {
			break
		}
		var child []byte
		var err error
		child, content, err = berElement(nil, content, depth+1)
		if err != nil {
			return nil, nil, err
		}
		if octets {
			if child[0] != 0x04 {
				return nil, nil, malformed("BER: constructed OCTET STRING with non-octet child")
			}
			_, v := splitTLV(child)
			body = append(body, v...)
		} else {
			body = append(body, child...)
		}
	}
	if octets {
		return appendTLV(dst, []byte{0x04}, body), b, nil
	}
	return appendTLV(dst, tag, body), b, nil
}

// splitTLV splits a DER element produced by appendTLV into header and value.
func splitTLV(el []byte) ([]byte, []byte) {
	n := 1
	if el[0]&0x1F == 0x1F {
		for el[n]&0x80 != 0 {
			n++
		}
		n++
	}
	if el[n] < 0x80 {
		return el[:n+1], el[n+1:]
	}
	k := int(el[n] & 0x7F)
	return el[:n+1+k], el[n+1+k:]
}

func appendTLV(dst, tag, v []byte) []byte {
	dst = append(dst, tag...)
	l := len(v)
	switch {
	case l < 0x80:
		dst = append(dst, byte(l))
	case l <= 0xFF:
		dst = append(dst, 0x81, byte(l))
	case l <= 0xFFFF:
		dst = append(dst, 0x82, byte(l>>8), byte(l))
	case l <= 0xFFFFFF:
		dst = append(dst, 0x83, byte(l>>16), byte(l>>8), byte(l))
	default:
		dst = append(dst, 0x84, byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
	}
	return append(dst, v...)
}
