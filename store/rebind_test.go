package store

import "testing"

func TestRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT a FROM t WHERE x = ? AND y = ?", "SELECT a FROM t WHERE x = $1 AND y = $2"},
		{"SELECT '?' , ? FROM t", "SELECT '?' , $1 FROM t"},
		{`SELECT "a?b" FROM t WHERE c = ?`, `SELECT "a?b" FROM t WHERE c = $1`},
		{"SELECT ? -- what?\n, ?", "SELECT $1 -- what?\n, $2"},
		{"SELECT 'unterminated ?", "SELECT 'unterminated ?"},
	}
	for _, tt := range tests {
		if got := rebind(Postgres, tt.in); got != tt.want {
			t.Errorf("rebind(Postgres, %q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := rebind(SQLite, tt.in); got != tt.in {
			t.Errorf("rebind(SQLite, %q) = %q, want unchanged", tt.in, got)
		}
	}
}

func FuzzRebind(f *testing.F) {
	f.Add("SELECT ? '?' \"?\" -- ?\n ?")
	f.Fuzz(func(t *testing.T, q string) {
		out := rebind(Postgres, q)
		if len(out) < len(q) {
			t.Fatalf("rebind shortened %q to %q", q, out)
		}
	})
}

func TestRedactURL(t *testing.T) {
	got := redactURL("postgres://user:hunter2@db.example:5432/x?sslmode=verify-full&password=p")
	if got != "postgres://db.example:5432/x" {
		t.Errorf("redactURL = %q", got)
	}
}
