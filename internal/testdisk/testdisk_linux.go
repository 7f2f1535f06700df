//go:build linux

// Package testdisk gives tests a small disk of their own, to see what code
// does when the disk fills up.
package testdisk

import (
	"syscall"
	"testing"
)

// Tmpfs mounts a tmpfs of the given size ("1m") on a fresh temp directory
// and returns it; the test is skipped where mounting is not allowed (not
// root, containers without CAP_SYS_ADMIN).
func Tmpfs(t testing.TB, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Logf("unmounting %s: %v", dir, err)
		}
	})
	return dir
}
