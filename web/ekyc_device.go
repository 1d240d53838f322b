package web

// Device keys and signed chip reads (package ekyc, devicekey.go):
//
//   - A tenant's administration client (scope ekyc:devices) registers the
//     public key (ES256 P-256 or Ed25519, DER SubjectPublicKeyInfo as
//     standard base64, or PEM) of each kiosk/reader API client, lists and
//     revokes them. Every change is audited by the ekyc service.
//   - A kiosk (scope ekyc:device) fetches the session's chip nonce, signs
//     ekyc.DeviceSigningInput with its key and posts the signature with
//     the chip read (POST /v1/ekyc/sessions/{id}/chip, "device_signature").

import (
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
)

func (s *Server) ekycDeviceRoutes() {
	s.mux.Handle("GET /v1/ekyc/sessions/{id}/chip/challenge", s.authed(ScopeEKYCDevice, s.ekycChipChallenge))
	s.mux.Handle("POST /v1/ekyc/device-keys", s.authed(ScopeEKYCDevices, s.ekycDeviceKeyRegister))
	s.mux.Handle("GET /v1/ekyc/device-keys", s.authed(ScopeEKYCDevices, s.ekycDeviceKeyList))
	s.mux.Handle("DELETE /v1/ekyc/device-keys/{kid}", s.authed(ScopeEKYCDevices, s.ekycDeviceKeyRevoke))
}

func (s *Server) ekycChipChallenge(w http.ResponseWriter, r *http.Request) error {
	p, a := clientActor(r)
	nonce, err := s.cfg.EKYC.Service.ChipChallenge(r.Context(), a, p.TenantID, r.PathValue("id"))
	if err != nil {
		return ekycProblem(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"session_id": r.PathValue("id"),
		"nonce": base64.RawURLEncoding.EncodeToString(nonce), "signing_input": "madoguchi-chip-read-v1"})
	return nil
}

type deviceKeyJSON struct {
	KeyID     string     `json:"key_id"`
	ClientID  string     `json:"client_id"`
	Alg       string     `json:"alg"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func toDeviceKeyJSON(k ekyc.DeviceKey) deviceKeyJSON {
	j := deviceKeyJSON{KeyID: k.ID, ClientID: k.ClientID, Alg: k.Alg, CreatedAt: k.CreatedAt}
	if !k.RevokedAt.IsZero() {
		t := k.RevokedAt
		j.RevokedAt = &t
	}
	return j
}

func (s *Server) ekycDeviceKeyRegister(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ClientID  string `json:"client_id"`
		PublicKey string `json:"public_key"` // PEM, or standard base64 of the DER
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	var der []byte
	if strings.HasPrefix(strings.TrimSpace(in.PublicKey), "-----BEGIN") {
		b, _ := pem.Decode([]byte(in.PublicKey))
		if b == nil || b.Type != "PUBLIC KEY" {
			p := errBadRequest("A field is missing or invalid.")
			p.Errors = []FieldError{{Field: "public_key", Detail: "a PEM PUBLIC KEY block"}}
			return p
		}
		der = b.Bytes
	} else {
		var err error
		if der, err = base64.StdEncoding.DecodeString(in.PublicKey); err != nil {
			p := errBadRequest("A field is missing or invalid.")
			p.Errors = []FieldError{{Field: "public_key", Detail: "PEM or standard base64 of a DER SubjectPublicKeyInfo"}}
			return p
		}
	}
	p, a := clientActor(r)
	k, err := s.cfg.EKYC.Service.RegisterDeviceKey(r.Context(), a, p.TenantID, in.ClientID, der)
	if err != nil {
		return ekycProblem(err)
	}
	w.Header().Set("Location", "/v1/ekyc/device-keys/"+k.ID)
	writeJSON(w, http.StatusCreated, toDeviceKeyJSON(*k))
	return nil
}

func (s *Server) ekycDeviceKeyList(w http.ResponseWriter, r *http.Request) error {
	p, _ := clientActor(r)
	ks, err := s.cfg.EKYC.Service.DeviceKeys(r.Context(), p.TenantID)
	if err != nil {
		return ekycProblem(err)
	}
	out := make([]deviceKeyJSON, 0, len(ks))
	for _, k := range ks {
		out = append(out, toDeviceKeyJSON(k))
	}
	writeJSON(w, http.StatusOK, map[string]any{"device_keys": out})
	return nil
}

func (s *Server) ekycDeviceKeyRevoke(w http.ResponseWriter, r *http.Request) error {
	p, a := clientActor(r)
	if err := s.cfg.EKYC.Service.RevokeDeviceKey(r.Context(), a, p.TenantID, r.PathValue("kid")); err != nil {
		return ekycProblem(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
