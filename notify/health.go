package notify

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"sort"
	"time"

	"github.com/madoguchi/madoguchi/store"
)

// MaxDestinations bounds how many receivers Destinations reports.
const MaxDestinations = 1000

// Destination is one receiver (scheme and host of the webhook URLs) with
// the outbox's events for it since a time, by state.
type Destination struct {
	Origin    string // "https://host[:port]"
	Pending   int
	Delivered int
	Dead      int
}

// Destinations lists the receivers the outbox sent to (or tried to) since
// since, busiest first, at most MaxDestinations. It reads only the outbox
// table: an operator's readiness check (madoguchi doctor) needs no keys.
func Destinations(ctx context.Context, db *store.DB, since time.Time) ([]Destination, error) {
	rows, err := db.Query(ctx, `SELECT url, state, COUNT(*) FROM notify_outbox WHERE created_at >= ? GROUP BY url, state`, store.Micros(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	by := map[string]*Destination{}
	for rows.Next() {
		var raw, state string
		var n int
		if err := rows.Scan(&raw, &state, &n); err != nil {
			return nil, err
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			continue // never stored: Enqueue checks the URL
		}
		o := u.Scheme + "://" + u.Host
		d := by[o]
		if d == nil {
			if len(by) >= MaxDestinations {
				continue
			}
			d = &Destination{Origin: o}
			by[o] = d
		}
		switch state {
		case StatePending:
			d.Pending += n
		case StateDelivered:
			d.Delivered += n
		case StateDead:
			d.Dead += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Destination, 0, len(by))
	for _, d := range by {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool {
		ti, tj := out[i].Pending+out[i].Delivered+out[i].Dead, out[j].Pending+out[j].Delivered+out[j].Dead
		if ti != tj {
			return ti > tj
		}
		return out[i].Origin < out[j].Origin
	})
	return out, nil
}

// Probe checks that a receiver can be reached the way deliveries reach it:
// the origin is resolved and dialled (public addresses only unless
// allowInsecure, as for deliveries) and, for https, the TLS handshake must
// verify the receiver's certificate. Nothing is sent.
func Probe(ctx context.Context, origin string, allowInsecure bool) error {
	if err := CheckURL(origin, allowInsecure); err != nil {
		return err
	}
	u, _ := url.Parse(origin)
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	if !allowInsecure {
		d.Control = PublicOnly
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	if u.Scheme != "https" {
		return nil
	}
	tc := tls.Client(conn, &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12})
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS: %w", err)
	}
	return nil
}
