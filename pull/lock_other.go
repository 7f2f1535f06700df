//go:build !unix

package pull

import (
	"context"
	"os"
)

// lockFile is a no-op where flock does not exist; concurrent pulls of one
// model from two processes are then the user's to avoid.
func lockFile(context.Context, *os.File) error { return nil }
