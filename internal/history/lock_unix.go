//go:build unix

package history

import (
	"errors"
	"os"
	"syscall"
)

// tryLock takes an advisory lock on f, shared or exclusive, without
// waiting; false if another open file holds a conflicting one. The
// kernel drops it when f is closed or the process dies, so a crashed
// process never leaves the history locked.
func tryLock(f *os.File, exclusive bool) (bool, error) {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		case !errors.Is(err, syscall.EINTR):
			return false, err
		}
	}
}

func unlock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
