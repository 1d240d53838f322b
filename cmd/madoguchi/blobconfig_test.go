package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/blob"
)

func TestBlobFlags(t *testing.T) {
	dir := t.TempDir()
	keys := func(where string) blobFlags {
		return blobFlags{where: where, accessKeyID: "AKID", secretKey: "secret"}
	}
	for _, tc := range []struct {
		name  string
		flags blobFlags
		want  string // "" = accepted; otherwise a fragment of the usage error
	}{
		{"default folder", blobFlags{}, ""},
		{"folder", blobFlags{where: filepath.Join(dir, "elsewhere")}, ""},
		{"bucket", keys("https://objects.example:8333/madoguchi?region=ap-northeast-1&prefix=prod/"), ""},
		{"keys in the URL", keys("https://AKID:secret@objects.example/madoguchi?region=r"), "not in the URL"},
		{"no keys", blobFlags{where: "https://objects.example/madoguchi?region=r"}, "MADOGUCHI_S3_ACCESS_KEY_ID"},
		{"no region", keys("https://objects.example/madoguchi"), "region"},
		{"no bucket", keys("https://objects.example/?region=r"), "bucket"},
		{"bucket with a path", keys("https://objects.example/a/b?region=r"), "bucket"},
		{"unknown parameter", keys("https://objects.example/madoguchi?region=r&acl=public"), "unknown parameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be, err := tc.flags.backend(dir)
			if tc.want == "" {
				if err != nil || be == nil {
					t.Fatalf("backend(%q) = %v, %v", tc.flags.where, be, err)
				}
				_, isS3 := be.(*blob.S3)
				if isS3 != tc.flags.isS3() {
					t.Errorf("backend(%q) is %T", tc.flags.where, be)
				}
				return
			}
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("backend(%q) = %v, want a usage error about %q", tc.flags.where, err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error repeats the secret: %v", err)
			}
		})
	}
}
