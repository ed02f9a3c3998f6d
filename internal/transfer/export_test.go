package transfer

import "time"

// SetCheckingEvery sets how often a sender hashing a resume prefix tells
// the receiver so, and returns a function that restores the old value.
// Call it before any transfer starts.
func SetCheckingEvery(d time.Duration) (restore func()) {
	old := checkingEvery
	checkingEvery = d
	return func() { checkingEvery = old }
}

// FrameChecking is the type of that frame, for tests that watch the wire.
const FrameChecking = frameChecking
