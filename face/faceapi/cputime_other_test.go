//go:build !unix

package faceapi

import "testing"

func reportCPU(b *testing.B) func() { return func() {} }
