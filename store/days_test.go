package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestDays: the SQL day number agrees with Go's calendar on both stores,
// around midnight in Tokyo and before 1970.
func TestDays(t *testing.T) {
	jst := time.FixedZone("JST", 9*3600)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		for _, c := range []struct {
			at   time.Time
			want string
		}{
			{time.Date(2026, 5, 1, 23, 59, 59, 999999000, jst), "2026-05-01"},
			{time.Date(2026, 5, 2, 0, 0, 0, 0, jst), "2026-05-02"},
			{time.Date(2026, 5, 1, 15, 0, 0, 0, time.UTC), "2026-05-01"}, // days in the time's own location
			{time.Date(1969, 12, 31, 20, 0, 0, 0, jst), "1969-12-31"},
		} {
			off, first, end, start, stop := store.DayRange(c.at, 3)
			var d int64
			if err := db.QueryRow(context.Background(), `SELECT `+store.DayExpr("x", off)+` FROM (SELECT CAST(? AS BIGINT) AS x) t`, store.Micros(c.at)).Scan(&d); err != nil {
				t.Fatal(err)
			}
			if c.at.Year() >= 1970 && d != first {
				t.Errorf("%v: SQL day %d, Go day %d", c.at, d, first)
			}
			loc := c.at.Location()
			if got := start.Format(time.DateOnly); got != c.want || !start.Equal(time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, loc)) {
				t.Errorf("%v: day starts %v, want %s 00:00 %v", c.at, start, c.want, loc)
			}
			if end != first+3 || stop.Sub(start) != 72*time.Hour {
				t.Errorf("%v: range %d..%d, %v..%v", c.at, first, end, start, stop)
			}
		}
	})
}
