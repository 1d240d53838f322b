//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd

package progress

import "os"

// isTerminal is false where terminals are not detected: progress stays
// quiet unless asked for a mode explicitly.
func isTerminal(*os.File) bool { return false }
