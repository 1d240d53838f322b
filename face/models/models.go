// Package models installs and verifies the pretrained face models that the
// face engine runs: the weight files of two pinned npm packages,
// @vladmandic/face-api@1.7.15 (folder model/) and @vladmandic/human@3.3.6
// (folder models/), both MIT licensed.
//
// Layout of a model folder:
//
//	<dir>/face-api/<allow-listed files of the face-api tarball's model/>
//	<dir>/human/<allow-listed files of the human tarball's models/>
//	<dir>/faceplugin/<allow-listed files of the faceplugin tarball's model/>
//	<dir>/manifest.json   what was installed, with every file's SHA-256
//
// Invariants:
//   - A tarball is used only if its SHA-512 equals the npm "dist.integrity"
//     pinned in this package (Pinned), whatever its origin: fetched with the
//     npm client (`npm pack NAME@VERSION`, which uses the registry the
//     operator's npm is configured with; no registry address appears here) or
//     handed over by the operator (Options.From) for machines without npm.
//   - Only the allow-listed file names are extracted, each must be a regular
//     file of exactly its pinned size and SHA-256; an archive with any unsafe
//     entry name (absolute, "..", backslash, NUL) is refused as a whole.
//     Compressed and uncompressed sizes are bounded.
//   - A package folder appears complete or not at all: files are extracted
//     into a temporary folder in the same parent, fsynced, then renamed into
//     place.
//   - Install is idempotent: if the folder already verifies it does nothing.
//     Concurrent installs into the same folder are serialised by a lock file.
package models

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps one of them.
var (
	// ErrIntegrity: a tarball does not match any pinned integrity.
	ErrIntegrity = errors.New("models: integrity mismatch")
	// ErrUnsafePath: an archive entry name could escape the target folder.
	ErrUnsafePath = errors.New("models: unsafe path in archive")
	// ErrTooLarge: a tarball, an entry or the whole archive exceeds its limit.
	ErrTooLarge = errors.New("models: too large")
	// ErrMissing: an expected model file or package is absent.
	ErrMissing = errors.New("models: missing")
	// ErrModified: an installed file differs from its pinned size or hash.
	ErrModified = errors.New("models: modified")
	// ErrMalformed: the archive or the manifest cannot be parsed.
	ErrMalformed = errors.New("models: malformed")
	// ErrFetch: the npm client could not provide a tarball.
	ErrFetch = errors.New("models: fetch failed")
)

// File is one allow-listed model file with its pinned size and SHA-256 (hex).
type File struct {
	Name   string
	Size   int64
	SHA256 string
}

// Package is one pinned npm package and the files taken from it.
type Package struct {
	Name      string // npm name, e.g. "@vladmandic/face-api"
	Version   string // exact version
	Integrity string // npm dist.integrity, "sha512-<base64>"
	Dir       string // folder under the model folder, e.g. "face-api"
	TarPrefix string // folder inside the tarball, e.g. "package/model/"
	// MaxTarball bounds the compressed tarball; MaxUnpacked bounds the
	// uncompressed tar stream read while looking for the files.
	MaxTarball  int64
	MaxUnpacked int64
	Files       []File
}

// Spec is "NAME@VERSION".
func (p Package) Spec() string { return p.Name + "@" + p.Version }

// File returns the allow-listed file called name.
func (p Package) File(name string) (File, bool) {
	for _, f := range p.Files {
		if f.Name == name {
			return f, true
		}
	}
	return File{}, false
}

const mib = 1 << 20

// FaceAPI is the face-api package: SSD and Tiny detectors, 68-point
// landmarks and the 128-D recognition ResNet.
func FaceAPI() Package {
	return Package{
		Name:        "@vladmandic/face-api",
		Version:     "1.7.15",
		Integrity:   "sha512-WDMmK3CfNLo8jylWqMoQgf4nIst3M0fzx1dnac96wv/dvMTN4DxC/Pq1DGtduDk1lktCamQ3MIDXFnvrdHTXDw==",
		Dir:         "face-api",
		TarPrefix:   "package/model/",
		MaxTarball:  32 * mib,
		MaxUnpacked: 256 * mib,
		Files: []File{
			{"ssd_mobilenetv1_model-weights_manifest.json", 28233, "888f744dffbc84f5f060d1f8427d9742341943a2dfaaf9205d10029b7e7a2955"},
			{"ssd_mobilenetv1_model.bin", 5616957, "2835640602d53718aa6ae9a42896327eaa21beefed056c218d32ca7d79e1e2f8"},
			{"tiny_face_detector_model-weights_manifest.json", 3219, "5d1af4849ac48d5b985f4a9b16010c512353ddd6fcc63d50fd0bc9e9e64296e5"},
			{"tiny_face_detector_model.bin", 193321, "b7503ce7df31039b1c43316a9b865cab6a70dd748cc602d3fa28b551503c3871"},
			{"face_landmark_68_model-weights_manifest.json", 8485, "ca4886639f86e99b39fed0c155f81b63317225773bd9616716e887b0153389c9"},
			{"face_landmark_68_model.bin", 356840, "4611ef65c87d836d03d684b30eec4d195d8b219fa1dd58fc58945831c6b9299b"},
			{"face_recognition_model-weights_manifest.json", 19615, "cbaffa501b0b9275a12b63357a6843e7e30c054e1c9151e1a5f879b26e32986b"},
			{"face_recognition_model.bin", 6444032, "b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589"},
		},
	}
}

// Human is the human package: BlazeFace detector, FaceMesh, FaceRes 1024-D
// descriptor, antispoof and liveness.
func Human() Package {
	return Package{
		Name:        "@vladmandic/human",
		Version:     "3.3.6",
		Integrity:   "sha512-Nr5mPfq1gQ+uKeXY5uM3Fj8UxvF5CEh2s6txM5wRThqaW0mF9huooOuZSrT8hhGho0hGaXLFdAwfD/2+teCv6A==",
		Dir:         "human",
		TarPrefix:   "package/models/",
		MaxTarball:  64 * mib,
		MaxUnpacked: 512 * mib,
		Files: []File{
			{"blazeface.json", 79038, "cd7bbfc078270572beb39f9e5ae67aadbd50b5e67cff37e6d4f6b3ea39312e5f"},
			{"blazeface.bin", 538928, "dc9a97fdc50bc43216554bdd69aa3e7b9361a519ee7bdd996a2f69a98a6f9b72"},
			{"facemesh.json", 95845, "b60ca26f404724f43bd2b1575761d8265180e1f053cc0731caa68462927309e7"},
			{"facemesh.bin", 1477958, "3826da640b0a3021161605369ee6af293f75d518040355b960ec71a3390c1c0b"},
			{"faceres.json", 71432, "5b83d49c0385d2e68a05122441b94226313677cae9fcc40b9587ad50079eb4df"},
			{"faceres.bin", 6978814, "2c7d2d62b76c97528b736527aa09d310ea71743c9e3e79fb6c62d4b2d73af79b"},
			{"antispoof.json", 8713, "7fd698ae1cebabbcad79d3b8b448587b0365eb7911987418231bdcf36583112a"},
			{"antispoof.bin", 853098, "4490fecb2becdb6869edc7e60f5e59962be013a8def8719b1373afb0f905c094"},
			{"liveness.json", 17070, "9e51c8acf83b80abbf329b2735309ab5c90611c66905ade8b1bd130d473df9c8"},
			{"liveness.bin", 592976, "fc6a6b6b3b9721bdb8bff67a457a15b7cbfd81715cfb27f3e65b757e81dd663e"},
		},
	}
}

// FaceAPISamples is not a model: it is the six demo photographs
// (1920x1280..1920x1537, 3-5 faces each) shipped in the face-api tarball,
// used by tests and benchmarks as multi-face group photos. It shares the
// face-api tarball and its integrity.
func FaceAPISamples() Package {
	p := FaceAPI()
	p.Dir = "face-api-samples"
	p.TarPrefix = "package/demo/"
	p.Files = []File{
		{"sample1.jpg", 144516, "8ecae4b267b2d3169e06e00c7dee97097aa2a94635d45216f7732a5f4943cb51"},
		{"sample2.jpg", 181758, "7d2b60ae6f13bf30f422e04df87451081a02c83de469056f25afb44b7000c691"},
		{"sample3.jpg", 221049, "8eb081c9efb14370fa94d9feab9e5fbeafd19a627491853a80c2bf67f7ffa936"},
		{"sample4.jpg", 210824, "729efa5923061d40eb4ed5f267a18cc7b8ba6f852bb2757b16d8b7e4937476fc"},
		{"sample5.jpg", 166400, "6d45095ebb182d8f975c0790e0e4eefd86fbb40609cf4b271776d92e12662938"},
		{"sample6.jpg", 302445, "9baad80f9d5e306fb9b8c0913d44445f1e95848df317530efb03d0934c57ba87"},
	}
	return p
}

// Faceplugin is the faceplugin package: an ArcFace-style MobileFaceNet
// recogniser (112x112 five-point chip, 512-D) and a MiniFASNet-style
// passive liveness model (128x128, three classes). Only these two of its
// ONNX files are taken.
func Faceplugin() Package {
	return Package{
		Name:        "faceplugin-face-recognition-js",
		Version:     "0.0.1",
		Integrity:   "sha512-shriXjd4zJHEwhK1jHK+bWo8Vv6Vu9B/w6RRsd4AFtNM/jaI2vhuOamOSMl9qQmLd8WlQ7dgqN+3C2iOi5pXWw==",
		Dir:         "faceplugin",
		TarPrefix:   "package/model/",
		MaxTarball:  64 * mib,
		MaxUnpacked: 128 * mib,
		Files: []File{
			{"fr_feature.onnx", 4884269, "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581"},
			{"fr_liveness.onnx", 1886811, "afa783b7e902fdfcf323a7240cac2a1c580c25314ea4161129dc1b0d100dc32d"},
		},
	}
}

// Pinned returns the model packages a complete model folder holds.
func Pinned() []Package { return []Package{FaceAPI(), Human(), Faceplugin()} }

// FileError reports one file that failed verification.
type FileError struct {
	Path string // relative to the model folder
	Err  error  // wraps ErrMissing or ErrModified
}

func (e *FileError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }
func (e *FileError) Unwrap() error { return e.Err }
