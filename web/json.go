package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// DefaultMaxBody caps JSON request bodies. Endpoints that accept images or
// chip files set their own, larger limits.
const DefaultMaxBody = 64 << 10

// decodeJSON reads exactly one JSON object from r's body into v. It requires
// Content-Type application/json, caps the body at limit bytes, refuses unknown
// fields and trailing data, and returns a problem describing what was wrong.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return newProblem(http.StatusUnsupportedMediaType, "unsupported-media-type",
			"Unsupported media type", "Send the body as application/json.")
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err, limit)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonProblem(err, limit)
		}
		return errBadRequest("The body must hold exactly one JSON object.")
	}
	return nil
}

func jsonProblem(err error, limit int64) *Problem {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return newProblem(http.StatusRequestEntityTooLarge, "too-large", "Request body too large",
			fmt.Sprintf("The body must be at most %d bytes.", limit))
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errBadRequest("The body is not valid JSON.")
	case errors.As(err, &te):
		p := errBadRequest("A field has the wrong type.")
		p.Errors = []FieldError{{Field: te.Field, Detail: "expected " + te.Type.String()}}
		return p
	default:
		// Unknown fields and other decoder complaints. The decoder's message
		// names the field but never echoes values.
		return errBadRequest("The body does not match the expected object: " + sanitize(err.Error()))
	}
}

// sanitize keeps a decoder message short and printable.
func sanitize(s string) string {
	const max = 120
	b := make([]rune, 0, len(s))
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			continue
		}
		b = append(b, c)
		if len(b) >= max {
			break
		}
	}
	return string(b)
}

// writeJSON writes v with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
