//go:build !cgo

package hsm

// Without cgo no PKCS#11 module can be loaded: every open fails closed
// with ErrNoCgo (after the URI is checked, so a typo is still reported as
// one).

type key struct{}

func open(URI, bool) (*key, Algorithm, []byte, error) { return nil, 0, nil, ErrNoCgo }

func (*key) sign(Algorithm, []byte) ([]byte, error) { return nil, ErrNoCgo }
func (*key) derive([]byte) ([]byte, error)          { return nil, ErrNoCgo }
func (*key) close() error                           { return nil }

// GenerateKey needs cgo; see the cgo build's documentation.
func GenerateKey(uri string, alg Algorithm) error {
	if _, err := ParseURI(uri); err != nil {
		return err
	}
	return ErrNoCgo
}
