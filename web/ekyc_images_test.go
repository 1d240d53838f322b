package web

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

type httptestResult struct {
	code int
	body string
	w    *httptest.ResponseRecorder
}

func pngBytes(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// truncatedPNG keeps a well-formed chunk stream (CRCs, IEND) around image
// data cut in half: what a dropped upload looks like after a proxy closed
// the stream and a client "repaired" it.
func truncatedPNG(t *testing.T) []byte {
	t.Helper()
	b := pngBytes(t, image.NewGray(image.Rect(0, 0, 64, 64)))
	i := bytes.Index(b, []byte("IDAT"))
	n := int(binary.BigEndian.Uint32(b[i-4:]))
	chunk := func(typ string, data []byte) []byte {
		out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		out = append(append(out, typ...), data...)
		return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	out := append(append([]byte{}, b[:i-4]...), chunk("IDAT", b[i+4:i+4+n/2])...)
	return append(out, chunk("IEND", nil)...)
}

// TestEKYCFrameImageBudget: the upload checks refuse, from the headers and
// a streamed check and before anything is stored, an image that would
// decode to more than ekyc.MaxDecodedImageBytes (the review's 4096x4096
// 16-bit all-zero PNG) and an image cut short, each with its own problem.
func TestEKYCFrameImageBudget(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h, _ := newEKYCServer(t, db)
		w := do(t, h, "POST", "/v1/ekyc/sessions", jsonBody(map[string]string{"method": "he", "reference": "r"}), bearerHdr("tok-a"))
		var sess struct {
			ID         string `json:"id"`
			CaptureURL string `json:"capture_url"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &sess); err != nil || w.Code != 201 {
			t.Fatalf("create = %d %s", w.Code, w.Body)
		}
		tok := strings.SplitN(sess.CaptureURL, "#t=", 2)[1]
		w = do(t, h, "POST", "/v1/ekyc/capture/start", nil, map[string]string{"Authorization": "Capture " + tok})
		var st struct {
			Key   string `json:"capture_key"`
			Nonce string `json:"frame_nonce"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || w.Code != 200 {
			t.Fatalf("start = %d %s", w.Code, w.Body)
		}
		rawKey, _ := base64.RawURLEncoding.DecodeString(st.Key)
		post := func(img []byte) *httptestResult {
			f := ekyc.Frame{Kind: ekyc.FrameSelfie, Seq: 1, Nonce: st.Nonce, CapturedAt: time.Now().Truncate(time.Millisecond), Source: ekyc.SourceCamera, Image: img}
			mac := base64.RawURLEncoding.EncodeToString(ekyc.FrameMAC(rawKey, sess.ID, &f))
			w := do(t, h, "POST", "/v1/ekyc/capture/frames", jsonBody(frameJSON{Kind: string(f.Kind), Seq: 1, Nonce: f.Nonce,
				CapturedAt: f.CapturedAt.UnixMilli(), Source: f.Source, Image: base64.StdEncoding.EncodeToString(img), MAC: mac}),
				map[string]string{"Authorization": "Capture-Key " + st.Key, "Content-Type": "application/json"})
			return &httptestResult{code: w.Code, body: w.Body.String(), w: w}
		}
		huge, err := os.ReadFile("../face/imageio/testdata/zeros-4096x4096-rgba16.png") // 4096x4096 16-bit, all zero
		if err != nil {
			t.Fatal(err)
		}
		var jb bytes.Buffer
		if err := jpeg.Encode(&jb, image.NewRGBA(image.Rect(0, 0, 64, 64)), nil); err != nil {
			t.Fatal(err)
		}
		noEOI := jb.Bytes()[:jb.Len()-2]
		corrupt := pngBytes(t, image.NewGray(image.Rect(0, 0, 64, 64)))
		corrupt[40] ^= 0x55
		for _, tc := range []struct {
			name   string
			img    []byte
			status int
			slug   string
			says   string
		}{
			{"4096x4096 16-bit all-zero PNG", huge, 413, "too-large", "would decode to 192 MiB"},
			{"PNG with its image data cut", truncatedPNG(t), 422, "ekyc-image", "truncated"},
			{"JPEG without its end marker", noEOI, 422, "ekyc-image", "truncated"},
			{"PNG failing its checksum", corrupt, 422, "ekyc-image", "corrupt"},
			{"GIF", []byte("GIF89a\x01\x00\x01\x00"), 422, "ekyc-image", "JPEG or PNG"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := post(tc.img)
				if r.code != tc.status {
					t.Fatalf("POST frame = %d %s, want %d", r.code, r.body, tc.status)
				}
				p := decodeProblem(t, r.w)
				if p.Type != problemTypeBase+tc.slug || !strings.Contains(p.Detail, tc.says) {
					t.Errorf("problem = %s %q, want %s saying %q", p.Type, p.Detail, tc.slug, tc.says)
				}
			})
		}
		var n int
		if err := db.QueryRow(t.Context(), `SELECT COUNT(*) FROM ekyc_frames WHERE session_id = ?`, sess.ID).Scan(&n); err != nil || n != 0 {
			t.Errorf("%d frames stored (%v), want 0", n, err)
		}
		// The nonce was not spent by the refusals: a whole image is taken.
		if r := post(tinyPNG(t, 3)); r.code != http.StatusCreated {
			t.Errorf("whole PNG after the refusals = %d %s, want 201", r.code, r.body)
		}
	})
}
