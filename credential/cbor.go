package credential

import (
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// The CBOR codecs of the credential formats. Decoding is strict: at most
// four levels of nesting, 64 array elements and 16 map pairs (the status
// list's bit string is one byte string, not an array), duplicate map keys
// and indefinite lengths refused, no tags (the one COSE tag is stripped by
// hand before decoding), unknown struct fields refused, and every text
// string valid UTF-8. Encoding is RFC 8949 core deterministic.
var (
	decMode = mustDecMode()
	encMode = mustEncMode()
)

func mustDecMode() cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:   4,
		MaxArrayElements:  64,
		MaxMapPairs:       16,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		UTF8:              cbor.UTF8RejectInvalid,
		NaN:               cbor.NaNDecodeForbidden,
		Inf:               cbor.InfDecodeForbidden,
		IntDec:            cbor.IntDecConvertNone,
	}.DecMode()
	if err != nil {
		panic(err) // the options above are constant
	}
	return m
}

func mustEncMode() cbor.EncMode {
	m, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return m
}

// ErrMalformed: bytes that are not a well-formed credential structure
// (CBOR, COSE, CWT, envelope or Base45) within the limits above.
var ErrMalformed = errors.New("credential: malformed")

// unmarshal decodes exactly one CBOR item of b into v, strictly.
func unmarshal(b []byte, v any) error {
	rest, err := decMode.UnmarshalFirst(b, v)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(rest))
	}
	return nil
}

func marshal(v any) ([]byte, error) { return encMode.Marshal(v) }
