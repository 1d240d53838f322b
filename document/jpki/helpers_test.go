package jpki_test

import (
	"crypto/rand"
	"crypto/x509"
	"io"
)

type x509Cert = x509.Certificate

func testRand() io.Reader { return rand.Reader }
