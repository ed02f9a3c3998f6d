// Package memtune trades a bounded amount of memory for less garbage
// collection while files move.
//
// Pion allocates a few fresh buffers for every packet it sends or
// receives (SCTP chunk and packet, DTLS record, AEAD output): about 13
// bytes of garbage per byte moved, so with Go's default GOGC=100 the
// collector runs every few megabytes and takes a tenth of a transfer's
// CPU. During a transfer a Tuner lets the heap grow further between
// collections (GOGC 400) under a soft memory limit a fixed headroom above
// what the process used when the first transfer began, so that memory
// stays bounded (the limit, not GOGC, sets the pace) and flat in file
// size. When the last transfer ends, the previous settings return.
//
// A user who sets GOGC or GOMEMLIMIT in the environment keeps them: the
// Tuner then does nothing.
package memtune

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Settings during transfers. Headroom keeps "epicshare send" of a 1 GiB
// or 4 GiB file, with its built-in signaling server, at 60-64 MiB of
// peak RSS; 24 MiB saved 4 MiB more but cost 40 % more sender CPU
// (bench/levers.md).
const (
	transferGOGC = 400
	Headroom     = 28 << 20
)

// Tuner switches the garbage collector's settings for the time transfers
// run. The zero value is ready; a nil *Tuner does nothing. One Tuner
// serves a whole process: the settings it changes are the process's.
type Tuner struct {
	mu        sync.Mutex
	active    int
	prevGOGC  int
	prevLimit int64
}

// Begin marks a transfer as started; end marks it finished (calling it
// again does nothing).
func (t *Tuner) Begin() (end func()) {
	if t == nil || userSet() {
		return func() {}
	}
	t.mu.Lock()
	if t.active == 0 {
		t.prevLimit = debug.SetMemoryLimit(int64(goMemory() + Headroom))
		t.prevGOGC = debug.SetGCPercent(transferGOGC)
	}
	t.active++
	t.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			if t.active--; t.active == 0 {
				debug.SetGCPercent(t.prevGOGC)
				debug.SetMemoryLimit(t.prevLimit)
			}
		})
	}
}

// Active reports how many transfers are under way.
func (t *Tuner) Active() int {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.active
}

func userSet() bool {
	return os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != ""
}

// goMemory is the memory the Go runtime holds from the system, as the
// soft memory limit counts it: everything mapped minus what was
// returned.
func goMemory() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() - s[1].Value.Uint64()
}
