package jpdl

import "github.com/madoguchi/madoguchi/document/internal/pkcs1"

// MinRSABits is the smallest issuer key accepted.
const MinRSABits = pkcs1.MinRSABits
