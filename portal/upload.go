package portal

import (
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
)

// File uploads (routes with Upload set). The body is multipart/form-data,
// capped by the route's MaxBody like every body (a declared Content-Length
// over it is 413 before a byte is read). The CSRF token must be the first
// part, so the framework checks it after reading at most a few hundred
// bytes; the rest of the body is read by the page, with rq.Upload, only
// after the session and the roles were checked. Forms put
// <input type="hidden" name="csrf"> first; browsers send parts in document
// order.

// maxTokenPart bounds the CSRF part.
const maxTokenPart = 256

// uploadToken reads the first part of a multipart body, which must be the
// field "csrf", and keeps the reader for rq.Upload.
func (rq *Request) uploadToken() (string, error) {
	mr, err := rq.R.MultipartReader()
	if err != nil {
		return "", errCSRF
	}
	tok, err := readToken(mr)
	if err != nil {
		return "", err
	}
	rq.upload = mr
	return tok, nil
}

// readToken reads the first part, which must be the field "csrf".
func readToken(mr *multipart.Reader) (string, error) {
	p, err := mr.NextPart()
	if err != nil {
		return "", errTooLargeOr(err)
	}
	defer p.Close()
	if p.FormName() != "csrf" || p.FileName() != "" {
		return "", errCSRF
	}
	b, err := io.ReadAll(io.LimitReader(p, maxTokenPart+1))
	if err != nil {
		return "", errTooLargeOr(err)
	}
	if len(b) > maxTokenPart {
		return "", errCSRF
	}
	return string(b), nil
}

// UploadForm is an upload form's fields and files.
type UploadForm struct {
	Values map[string]string
	Files  map[string][]byte
	// Names are the files' names as the browser sent them.
	Names map[string]string
}

// Value returns a trimmed field.
func (u UploadForm) Value(name string) string { return strings.TrimSpace(u.Values[name]) }

// errUploadPart is a part over its own limit.
var errUploadPart = &statusError{http.StatusRequestEntityTooLarge, "error.too_large"}

// Upload reads the rest of an Upload route's body: each file part up to
// limits[name] bytes (a file not listed, or over its limit, refuses the
// request with 413 without reading further), each other field up to 4 KiB.
// At most 16 parts.
func (rq *Request) Upload(limits map[string]int64) (UploadForm, error) {
	if rq.upload == nil {
		return UploadForm{}, errBadInput
	}
	return readUpload(rq.upload, limits)
}

// readUpload reads the parts after the token (see Upload).
func readUpload(mr *multipart.Reader, limits map[string]int64) (UploadForm, error) {
	f := UploadForm{Values: map[string]string{}, Files: map[string][]byte{}, Names: map[string]string{}}
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return f, nil
		}
		if err != nil {
			return f, errTooLargeOr(err)
		}
		if i >= 16 {
			return f, errBadInput
		}
		name := p.FormName()
		limit := int64(4 << 10)
		if p.FileName() != "" {
			l, ok := limits[name]
			if !ok {
				return f, errBadInput
			}
			limit = l
		}
		b, err := io.ReadAll(io.LimitReader(p, limit+1))
		p.Close()
		if err != nil {
			return f, errTooLargeOr(err)
		}
		if int64(len(b)) > limit {
			return f, errUploadPart
		}
		if p.FileName() != "" {
			if len(b) > 0 {
				f.Files[name], f.Names[name] = b, p.FileName()
			}
			continue
		}
		f.Values[name] = string(b)
	}
}
