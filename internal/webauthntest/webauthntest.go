// Package webauthntest is a software WebAuthn authenticator for tests: it
// answers a relying party's creation and request options (the JSON the
// portal sends to navigator.credentials) with the JSON a browser's
// PublicKeyCredential.toJSON() produces, with real P-256 signatures, "none"
// attestation, user presence and verification, and a signature counter.
// It is what the browser's virtual authenticator does, for Go tests that do
// not run a browser. Never use it outside tests.
package webauthntest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

var b64 = base64.RawURLEncoding

// Authenticator holds one discoverable credential per relying party and
// user, as a platform authenticator does.
type Authenticator struct {
	// Origin is the origin the "browser" reports in client data.
	Origin string
	// Counter is the signature counter of the next assertion (incremented
	// after each); tests set it back to simulate a cloned authenticator.
	Counter uint32
	creds   []*credential
}

type credential struct {
	id     []byte
	rpID   string
	userID []byte
	key    *ecdsa.PrivateKey
}

// New returns an authenticator whose client reports origin.
func New(origin string) *Authenticator { return &Authenticator{Origin: origin, Counter: 1} }

type creationOptions struct {
	RP        struct{ ID string } `json:"rp"`
	User      struct{ ID string } `json:"user"`
	Challenge string              `json:"challenge"`
}

type requestOptions struct {
	Challenge        string `json:"challenge"`
	RPID             string `json:"rpId"`
	AllowCredentials []struct {
		ID string `json:"id"`
	} `json:"allowCredentials"`
}

// unwrap accepts the options or {"publicKey": options}.
func unwrap(b []byte) []byte {
	var w struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if json.Unmarshal(b, &w) == nil && len(w.PublicKey) > 0 {
		return w.PublicKey
	}
	return b
}

func (a *Authenticator) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return b
}

func authData(rpID string, flags byte, counter uint32, attested []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, counter)
	return append(out, attested...)
}

// Flags.
const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
)

// Create answers creation options with a new credential (the registration
// response JSON).
func (a *Authenticator) Create(options []byte) ([]byte, error) {
	var o creationOptions
	if err := json.Unmarshal(unwrap(options), &o); err != nil {
		return nil, err
	}
	uid, err := b64.DecodeString(o.User.ID)
	if err != nil {
		return nil, fmt.Errorf("user.id: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	c := &credential{id: make([]byte, 16), rpID: o.RP.ID, userID: uid, key: key}
	if _, err := rand.Read(c.id); err != nil {
		return nil, err
	}
	pub, err := key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	x, y := pub[1:33], pub[33:65]
	cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	if err != nil {
		return nil, err
	}
	attested := make([]byte, 16) // AAGUID: zero
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(c.id)))
	attested = append(attested, c.id...)
	attested = append(attested, cose...)
	ad := authData(o.RP.ID, flagUP|flagUV|flagAT, 0, attested)
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		return nil, err
	}
	a.creds = append(a.creds, c)
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(c.id), "rawId": b64.EncodeToString(c.id), "type": "public-key",
		"authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(a.clientData("webauthn.create", o.Challenge)),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"internal"},
		},
		"clientExtensionResults": map[string]any{},
	})
}

// ErrNoCredential: the authenticator has no credential the options allow.
var ErrNoCredential = errors.New("webauthntest: no matching credential")

// Get answers request options with an assertion (the authentication
// response JSON) from the newest matching credential.
func (a *Authenticator) Get(options []byte) ([]byte, error) {
	var o requestOptions
	if err := json.Unmarshal(unwrap(options), &o); err != nil {
		return nil, err
	}
	var c *credential
	for i := len(a.creds) - 1; i >= 0 && c == nil; i-- {
		cr := a.creds[i]
		if cr.rpID != o.RPID {
			continue
		}
		if len(o.AllowCredentials) == 0 {
			c = cr
		}
		for _, al := range o.AllowCredentials {
			if al.ID == b64.EncodeToString(cr.id) {
				c = cr
			}
		}
	}
	if c == nil {
		return nil, ErrNoCredential
	}
	return a.Sign(c.id, o.Challenge, o.RPID)
}

// Sign makes an assertion with credential id over challenge for rpID.
func (a *Authenticator) Sign(id []byte, challenge, rpID string) ([]byte, error) {
	var c *credential
	for _, cr := range a.creds {
		if string(cr.id) == string(id) {
			c = cr
		}
	}
	if c == nil {
		return nil, ErrNoCredential
	}
	ad := authData(rpID, flagUP|flagUV, a.Counter, nil)
	a.Counter++
	cd := a.clientData("webauthn.get", challenge)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, c.key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(c.id), "rawId": b64.EncodeToString(c.id), "type": "public-key",
		"authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cd),
			"authenticatorData": b64.EncodeToString(ad),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(c.userID),
		},
		"clientExtensionResults": map[string]any{},
	})
}
