package store

import (
	"fmt"
	"time"
)

// Calendar days in SQL, for statistics grouped by day (the portal's
// dashboard). Times are stored as Unix microseconds (Micros); a day number
// is (µs + UTC offset) / one day, integer arithmetic that both dialects
// compute alike. An index on the same expression, written the same way,
// lets a query read a tenant's rows already in day order (migration 0029
// indexes Japan Standard Time, UTC+9).

// DayMicros is one day in microseconds.
const DayMicros = int64(24 * time.Hour / time.Microsecond)

// DayExpr is the SQL day number of column for a UTC offset of offUS µs:
// "((column + offUS) / 86400000000)". The values are computed integers,
// never input, so the text can be part of a query.
func DayExpr(column string, offUS int64) string {
	return fmt.Sprintf("((%s + %d) / %d)", column, offUS, DayMicros)
}

// DayRange returns the UTC offset (µs), the first day number and the one
// after the last, and the first and end instants of days calendar days
// from from's day on, in from's location at from's UTC offset (exact for
// fixed-offset zones such as Asia/Tokyo; across a daylight-saving change,
// days after it are shifted by the change).
func DayRange(from time.Time, days int) (offUS, first, end int64, start, stop time.Time) {
	_, off := from.Zone()
	offUS = int64(off) * 1e6
	first = floorDiv(Micros(from)+offUS, DayMicros)
	end = first + int64(days)
	return offUS, first, end, DayStart(first, offUS, from.Location()), DayStart(end, offUS, from.Location())
}

// DayStart is the first instant of day number d at offset offUS, in loc.
func DayStart(d, offUS int64, loc *time.Location) time.Time {
	return time.UnixMicro(d*DayMicros - offUS).In(loc)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
