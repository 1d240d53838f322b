package main

// Where blobs live: a folder (default <data>/blobs, for one instance) or an
// S3-compatible object store shared by every instance (scale-out):
//
//	--blobs https://objects.example:8333/madoguchi-blobs?region=ap-northeast-1[&prefix=prod/]
//
// The access key comes only from the environment (MADOGUCHI_S3_ACCESS_KEY_ID,
// MADOGUCHI_S3_SECRET_ACCESS_KEY, optional MADOGUCHI_S3_SESSION_TOKEN), never
// from a flag or the URL: flags show in process listings. Blobs are
// ciphertext (package vault seals them first) and content-addressed, so the
// object store sees neither plaintext nor names.

import (
	"flag"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/madoguchi/madoguchi/blob"
)

// blobFlags are the blob-store settings.
type blobFlags struct {
	where       string
	accessKeyID string
	secretKey   string
	session     string
}

func (b *blobFlags) register(fs *flag.FlagSet, e *env) {
	envString(fs, e, &b.where, "blobs", "MADOGUCHI_BLOBS", "", "blob store: a folder (default <data>/blobs) or an S3-compatible bucket URL http(s)://host[:port]/bucket?region=R[&prefix=P], keys from MADOGUCHI_S3_ACCESS_KEY_ID and MADOGUCHI_S3_SECRET_ACCESS_KEY")
	b.accessKeyID = e.getenv("MADOGUCHI_S3_ACCESS_KEY_ID")
	b.secretKey = e.getenv("MADOGUCHI_S3_SECRET_ACCESS_KEY")
	b.session = e.getenv("MADOGUCHI_S3_SESSION_TOKEN")
}

// isS3 reports whether the setting names an object store.
func (b *blobFlags) isS3() bool {
	return strings.HasPrefix(b.where, "https://") || strings.HasPrefix(b.where, "http://")
}

// backend opens the configured blob backend; dataDir is the default
// folder's parent.
func (b *blobFlags) backend(dataDir string) (blob.Backend, error) {
	if !b.isS3() {
		dir := b.where
		if dir == "" {
			dir = filepath.Join(dataDir, "blobs")
		}
		return blob.NewFS(dir)
	}
	u, err := url.Parse(b.where)
	if err != nil {
		return nil, usageError{"--blobs: not a URL"}
	}
	if u.User != nil {
		return nil, usageError{"--blobs: put the S3 keys in MADOGUCHI_S3_ACCESS_KEY_ID and MADOGUCHI_S3_SECRET_ACCESS_KEY, not in the URL"}
	}
	bucket := strings.Trim(u.Path, "/")
	q := u.Query()
	for k := range q {
		if k != "region" && k != "prefix" {
			return nil, usageError{fmt.Sprintf("--blobs: unknown parameter %q (want region, prefix)", k)}
		}
	}
	if bucket == "" || strings.Contains(bucket, "/") {
		return nil, usageError{"--blobs: the URL's path must be exactly the bucket name"}
	}
	if q.Get("region") == "" {
		return nil, usageError{"--blobs: give the region (?region=…; us-east-1 for most self-hosted stores)"}
	}
	if b.accessKeyID == "" || b.secretKey == "" {
		return nil, usageError{"--blobs is an object store: set MADOGUCHI_S3_ACCESS_KEY_ID and MADOGUCHI_S3_SECRET_ACCESS_KEY"}
	}
	return blob.NewS3(blob.S3Config{
		Endpoint: u.Scheme + "://" + u.Host, Region: q.Get("region"), Bucket: bucket, Prefix: q.Get("prefix"),
		AccessKeyID: b.accessKeyID, SecretAccessKey: b.secretKey, SessionToken: b.session,
	})
}
