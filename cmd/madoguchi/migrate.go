package main

import (
	"context"
	"fmt"

	"github.com/madoguchi/madoguchi/store"
)

func runMigrate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "migrate", "migrate [--data DIR] [--db URL] [--status]")
	var d dataFlags
	d.register(fs, e)
	status := fs.Bool("status", false, "print the schema status and apply nothing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := d.ensureDataDir(); err != nil {
		return err
	}
	db, err := store.Open(ctx, d.dsn())
	if err != nil {
		return err
	}
	defer db.Close()
	if *status {
		st, err := db.CheckSchema(ctx)
		fmt.Fprintf(e.stdout, "dialect %s, schema version %d, latest %d, pending %v\n", db.Dialect(), st.Current, st.Latest, st.Pending)
		if err != nil {
			return exitError{1}
		}
		return nil
	}
	pr, err := newProgress(e, "migrate", 0, "migrations")
	if err != nil {
		return err
	}
	applied, err := db.MigrateProgress(ctx, func(done, total int) {
		pr.SetTotal(int64(total))
		pr.Set(int64(done))
	})
	pr.Done()
	for _, v := range applied {
		fmt.Fprintf(e.stdout, "applied migration %04d\n", v)
	}
	if err != nil {
		return err
	}
	st, err := db.CheckSchema(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "schema at version %d (%s)\n", st.Current, db.Dialect())
	return nil
}
