package chip_test

import (
	"context"
	"testing"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/chip"
	"github.com/madoguchi/madoguchi/document/icao"
	"github.com/madoguchi/madoguchi/document/jpdl"
	"github.com/madoguchi/madoguchi/document/mynumber"
	"github.com/madoguchi/madoguchi/document/residence"
)

// BenchmarkVerify measures one chip read per kind through chip.Verifier
// (sub-benchmark "chip") and, as the reference, through the kind's own
// verifier called directly ("direct"): the difference is the cost of the
// dispatch, naming and limit checks.
func BenchmarkVerify(b *testing.B) {
	is := testIssuers(b)
	v, err := chip.New(is.cfg)
	if err != nil {
		b.Fatal(err)
	}
	iv, _ := icao.NewVerifier(icao.Config{Anchors: is.cfg.ICAO})
	jv, _ := jpdl.NewVerifier(is.cfg.JPDL)
	mv, _ := mynumber.NewVerifier(is.cfg.MyNumber)
	rv, _ := residence.NewVerifier(is.cfg.Residence)
	now := is.cfg.Now()
	for _, k := range document.Kinds() {
		c := make([]byte, 32)
		files := is.read(b, k, c)
		named, err := chip.Normalize(k, files)
		if err != nil {
			b.Fatal(err)
		}
		direct := map[document.Kind]func() error{
			document.KindICAO: func() error { _, err := iv.VerifyNamed(named, c[:chip.ChallengeSize], now); return err },
			document.KindJPDL: func() error {
				_, err := jv.Verify(jpdl.Files{Common: named["mf_ef01"], Matters: named["df1_ef01"], Honseki: named["df1_ef02"], Signature: named["df1_ef07"], Photo: named["df2_ef01"]}, now)
				return err
			},
			document.KindMyNumber: func() error {
				_, err := mv.Verify(&mynumber.Files{Basic4: named["textap_ef02"], TextSignature: named["textap_ef03"], TextCert: named["textap_ef04"], Visual: named["visualap_ef02"], VisualCert: named["visualap_ef04"]}, now)
				return err
			},
			document.KindResidence: func() error {
				_, err := rv.Verify(residence.Files{Common: named["mf_ef01"], Front: named["df1_ef01"], Face: named["df1_ef02"], Back: named["df2_ef01"], Signature: named["df3_ef01"]}, now)
				return err
			},
		}[k]
		b.Run(string(k)+"/chip", func(b *testing.B) {
			for b.Loop() {
				if _, err := v.Verify(context.Background(), k, files, c); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(k)+"/direct", func(b *testing.B) {
			for b.Loop() {
				if err := direct(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
