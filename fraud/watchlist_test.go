package fraud

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

func TestParseListRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, format, in, want string
	}{
		{"empty", "csv", "", "empty"},
		{"no id column", "csv", "name,kana\n山田,ヤマダ\n", "id column"},
		{"unknown column", "csv", "id,name,email\n1,山田,x\n", "unknown column"},
		{"repeated column", "csv", "id,name,name\n1,a,b\n", "repeated column"},
		{"header only", "csv", "id,name\n", "no entries"},
		{"no name", "csv", "id,name,kana,latin\n1,,,\n", "record 2: name"},
		{"bad date", "csv", "id,name,birth_date\n1,山田,1990/01/02\n", "record 2: birth_date: must be YYYY-MM-DD"},
		{"bad id", "csv", "id,name\n,山田\n", "record 2: id"},
		{"repeated id", "csv", "id,name\n1,山田\n1,佐藤\n", "repeated entry id"},
		{"wrong list", "csv", "id,name,list_id\n1,山田,other\n", "list_id"},
		{"control char", "csv", "id,name\n1,\"山\x01田\"\n", "control characters"},
		{"bad quotes", "csv", "id,name\n1,\"山田\n", "not CSV"},
		{"field count", "csv", "id,name\n1,山田,extra\n", "not CSV"},
		{"not utf8", "csv", "id,name\n1,\xff\xfe\n", "not UTF-8"},
		{"too many aliases", "csv", "id,name,aliases\n1,a," + strings.Repeat("b|", 20) + "b\n", "aliases"},
		{"json not object", "json", `[]`, "want an object"},
		{"json unknown key", "json", `{"entries":[],"x":1}`, "unknown key"},
		{"json bad entry", "json", `{"entries":[{"id":"1","nom":"x"}]}`, "record 1: not an entry"},
		{"json trailing", "json", `{"list_id":"wl","entries":[{"id":"1","name":"山田"}]} {}`, "trailing data"},
		{"json unterminated", "json", `{"entries":[{"id":"1","name":"山田"}`, "unterminated"},
		{"json list mismatch", "json", `{"list_id":"a","entries":[{"id":"1","name":"x","list_id":"b"}]}`, "list_id"},
		{"json repeated key", "json", `{"entries":[],"entries":[]}`, "repeated key"},
		{"format", "xml", `<x/>`, "format must be csv or json"},
	} {
		_, err := ParseList(tc.format, "wl", strings.NewReader(tc.in))
		var le *ListError
		if err == nil || !errors.As(err, &le) || !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseList(%s) = %v, want a ListError containing %q", tc.name, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "山田") || strings.Contains(err.Error(), "佐藤")) {
			t.Errorf("ParseList(%s) error %q quotes personal data", tc.name, err)
		}
	}
	ok := "\ufeffID,Name,Kana,Latin,Aliases,Birth_Date,List_ID\nA1,山田 太郎,ヤマダ タロウ,Taro YAMADA,山田 太朗|Tarō Yamada,1960-01-02,wl\n"
	es, err := ParseList("csv", "wl", strings.NewReader(ok))
	if err != nil || len(es) != 1 || len(es[0].Aliases) != 2 || es[0].BirthDate != "1960-01-02" {
		t.Fatalf("ParseList(valid CSV with BOM) = %+v, %v", es, err)
	}
	js := `{"list_id":"wl","entries":[{"id":"A1","name":"山田 太郎","aliases":["Taro Yamada"]},{"id":"A2","latin":"Jiro Kato","birth_date":"1981-01-01"}]}`
	if es, err := ParseList("json", "", strings.NewReader(js)); err != nil || len(es) != 2 || es[1].ListID != "wl" {
		t.Fatalf("ParseList(valid JSON) = %+v, %v", es, err)
	}
}

func TestWatchlistImportAndScreening(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		alice := Actor{Kind: "staff", ID: "stf_alice"}
		bob := Actor{Kind: "staff", ID: "stf_bob"}
		list := "id,name,kana,latin,birth_date\nH1,髙橋 一郎,タカハシ イチロウ,Ichiro TAKAHASHI,1955-03-04\nH2,,サイトウ ケンジ,,\n"
		st, err := e.svc.StageList(e.ctx, alice, e.tenantA, "hansha", "csv", strings.NewReader(list))
		if err != nil || st.Version != 1 || st.Entries != 2 || len(st.SHA256) != 64 {
			t.Fatalf("StageList = %+v, %v", st, err)
		}
		applicant := Input{Name: "高橋 一郎", BirthDate: "1955-03-04"}
		// Pending: not screened yet.
		if fs := e.session(e.tenantA, "ses_1", "sub_1", applicant, false); len(fs) != 0 {
			t.Fatalf("before activation: %v", codes(fs))
		}
		act := ListActivation{Tenant: e.tenantA, List: "hansha", Version: 1, SHA256: st.SHA256, Entries: 2}
		bad := act
		bad.SHA256 = strings.Repeat("0", 64)
		if err := e.db.InTx(e.ctx, func(tx *store.Tx) error { return e.svc.ActivateList(e.ctx, tx, bob, bad) }); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ActivateList(other digest) = %v, want ErrInvalidInput", err)
		}
		if err := e.db.InTx(e.ctx, func(tx *store.Tx) error { return e.svc.ActivateList(e.ctx, tx, bob, act) }); err != nil {
			t.Fatal(err)
		}
		if err := e.db.InTx(e.ctx, func(tx *store.Tx) error { return e.svc.ActivateList(e.ctx, tx, bob, act) }); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ActivateList twice = %v, want ErrInvalidInput", err)
		}
		fs := e.session(e.tenantA, "ses_2", "sub_2", applicant, false)
		if f := find(fs, ReasonWatchlist); f == nil || f.Entry != "hansha/H1@v1" || !strings.Contains(f.Detail, "birth date") {
			t.Fatalf("after activation: %+v, want a hit naming hansha/H1@v1", fs)
		}
		// Latin name of the applicant against a kana-only entry.
		if fs := e.session(e.tenantA, "ses_3", "sub_3", Input{NameLatin: "Kenji SAITOH", BirthDate: "1970-01-01"}, false); find(fs, ReasonWatchlist) == nil {
			t.Errorf("Latin against kana entry: %v", codes(fs))
		}
		// Other tenants never screen against A's list.
		if fs := e.session(e.tenantB, "ses_b", "sub_b", applicant, false); len(fs) != 0 {
			t.Errorf("tenant B: %v", codes(fs))
		}
		// Version 2 replaces version 1 once approved.
		st2, err := e.svc.StageList(e.ctx, alice, e.tenantA, "hansha", "json", strings.NewReader(`{"entries":[{"id":"H9","name":"佐藤 花子"}]}`))
		if err != nil || st2.Version != 2 {
			t.Fatalf("StageList v2 = %+v, %v", st2, err)
		}
		if err := e.db.InTx(e.ctx, func(tx *store.Tx) error {
			return e.svc.ActivateList(e.ctx, tx, bob, ListActivation{Tenant: e.tenantA, List: "hansha", Version: 2, SHA256: st2.SHA256, Entries: 1})
		}); err != nil {
			t.Fatal(err)
		}
		if fs := e.session(e.tenantA, "ses_4", "sub_4", applicant, false); len(fs) != 0 {
			t.Errorf("after v2: %v, want no hit (H1 is gone)", codes(fs))
		}
		vs, err := e.svc.Lists(e.ctx, e.tenantA)
		if err != nil || len(vs) != 2 || vs[0].State != ListActive || vs[1].State != ListSuperseded || vs[0].ApprovedBy != "staff:stf_bob" || vs[0].StagedBy != "staff:stf_alice" {
			t.Errorf("Lists = %+v, %v", vs, err)
		}
		// A malformed import stores nothing.
		if _, err := e.svc.StageList(e.ctx, alice, e.tenantA, "hansha", "csv", strings.NewReader("id,name\n1,\n")); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("StageList(malformed) = %v", err)
		}
		var n int
		if err := db.QueryRow(e.ctx, `SELECT COUNT(*) FROM fraud_watchlists WHERE tenant_id = ?`, e.tenantA).Scan(&n); err != nil || n != 2 {
			t.Errorf("versions after a refused import = %d, %v, want 2", n, err)
		}
		// Every step is audited; no entry content reaches the audit log.
		rows, err := db.Query(e.ctx, `SELECT action, leaf FROM audit_entries WHERE object = 'watchlist/hansha' ORDER BY idx`)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for rows.Next() {
			var (
				a string
				d []byte
			)
			if err := rows.Scan(&a, &d); err != nil {
				t.Fatal(err)
			}
			actions = append(actions, a)
			if bytes.Contains(d, []byte("髙橋")) || bytes.Contains(d, []byte("佐藤")) {
				t.Errorf("audit details %q hold list content", d)
			}
		}
		rows.Close()
		if !slices.Equal(actions, []string{"fraud.watchlist.stage", "fraud.watchlist.activate", "fraud.watchlist.stage", "fraud.watchlist.activate"}) {
			t.Errorf("audit = %v", actions)
		}
		// Chunks are sealed: the name is nowhere in the table in clear.
		rows, err = db.Query(e.ctx, `SELECT body FROM fraud_watchlist_chunks`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte("髙橋")) || bytes.Contains(b, []byte("Saito")) {
				t.Error("a watchlist chunk holds a name in clear")
			}
		}
		rows.Close()
	})
}

func TestWatchlistChunks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		var b strings.Builder
		b.WriteString("id,latin,birth_date\n")
		n := chunkEntries + 5
		for i := range n {
			fmt.Fprintf(&b, "X%d,Person%d Family%d,\n", i, i, i)
		}
		st, err := e.svc.StageList(e.ctx, System, e.tenantA, "big", "csv", strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.db.InTx(e.ctx, func(tx *store.Tx) error {
			return e.svc.ActivateList(e.ctx, tx, System, ListActivation{Tenant: e.tenantA, List: "big", Version: 1, SHA256: st.SHA256, Entries: n})
		}); err != nil {
			t.Fatal(err)
		}
		fs := e.session(e.tenantA, "ses_1", "sub_1", Input{NameLatin: fmt.Sprintf("FAMILY%d PERSON%d", n-1, n-1)}, false)
		if f := find(fs, ReasonWatchlist); f == nil || f.Entry != fmt.Sprintf("big/X%d@v1", n-1) {
			t.Errorf("entry in the second chunk: %+v", fs)
		}
	})
}

func FuzzParseList(f *testing.F) {
	f.Add("csv", "id,name,kana,latin,aliases,birth_date,list_id\nA1,山田 太郎,ヤマダ タロウ,Taro YAMADA,a|b,1960-01-02,wl\n")
	f.Add("csv", "id,name\n1,\"x\"\"y\"\n")
	f.Add("json", `{"list_id":"wl","entries":[{"id":"A1","name":"山田","aliases":["x"],"birth_date":"1960-01-02"}]}`)
	f.Add("json", `{"entries":[{"id":"1","latin":"a b"}]}`)
	f.Fuzz(func(t *testing.T, format, in string) {
		es, err := ParseList(format, "wl", strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("ParseList error %v is not ErrInvalidInput", err)
			}
			return
		}
		if len(es) == 0 {
			t.Fatal("ParseList accepted a list without entries")
		}
		for _, e := range es {
			if e.ListID != "wl" || e.ID == "" || len(e.names()) == 0 {
				t.Fatalf("accepted entry %+v", e)
			}
		}
	})
}
