//go:build windows

package history

import (
	"errors"
	"syscall"

	"golang.org/x/sys/windows"
)

// diskFull reports whether err says the disk is full: Windows says so
// with its own codes, which syscall.ENOSPC (a Go invention there) never
// matches.
func diskFull(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL) ||
		errors.Is(err, syscall.ENOSPC)
}
