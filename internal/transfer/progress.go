package transfer

import (
	"sync/atomic"
	"time"
)

// Progress is a snapshot of one transfer, for a progress bar.
type Progress struct {
	File      string // path of the current file in the manifest
	FileIndex int    // its index in Manifest.Entries
	FileDone  int64
	FileSize  int64
	Done      int64 // bytes of all files so far, Resumed included
	Total     int64
	// Resumed counts the bytes an earlier, broken transfer had delivered
	// already: they were not sent again.
	Resumed int64
	Rate    float64 // bytes per second, smoothed; 0 until known
	Elapsed time.Duration
}

// ETA estimates the time until everything is done; -1 while unknown.
func (p Progress) ETA() time.Duration { return eta(p.Total-p.Done, p.Rate) }

// FileETA estimates the time until the current file is done; -1 while unknown.
func (p Progress) FileETA() time.Duration { return eta(p.FileSize-p.FileDone, p.Rate) }

func eta(left int64, rate float64) time.Duration {
	if left <= 0 {
		return 0
	}
	if rate <= 0 {
		return -1
	}
	return time.Duration(float64(left) / rate * float64(time.Second)).Round(time.Second)
}

// progressInterval is how often a tracker reports at most.
const progressInterval = 100 * time.Millisecond

// tracker turns byte counts into throttled Progress reports.
type tracker struct {
	wd      *watchdog
	fn      func(Progress)
	p       Progress
	start   time.Time
	last    time.Time // last report
	sampleT time.Time // last rate sample
	sampleN int64
}

func newTracker(fn func(Progress), total int64) *tracker {
	now := time.Now()
	return &tracker{fn: fn, p: Progress{Total: total}, start: now, last: now, sampleT: now}
}

// file starts reporting for entry i.
func (t *tracker) file(i int, e Entry) {
	t.wd.touch()
	t.p.File, t.p.FileIndex, t.p.FileDone, t.p.FileSize = e.Path, i, 0, e.Size
	t.report(true)
}

// add counts n more bytes of the current file.
func (t *tracker) add(n int) {
	t.wd.touch()
	t.p.FileDone += int64(n)
	t.p.Done += int64(n)
	t.report(false)
}

// skip counts n bytes of the current file that need not be sent (resumed);
// they count as done but not toward the rate.
func (t *tracker) skip(n int64) {
	t.wd.touch()
	t.p.FileDone += n
	t.p.Done += n
	t.p.Resumed += n
	t.sampleN += n
	t.report(true)
}

// report calls fn if forced or if the interval passed.
func (t *tracker) report(force bool) {
	if t.fn == nil {
		return
	}
	now := time.Now()
	if dt := now.Sub(t.sampleT); dt >= 4*progressInterval {
		inst := float64(t.p.Done-t.sampleN) / dt.Seconds()
		if t.p.Rate == 0 {
			t.p.Rate = inst
		} else {
			t.p.Rate = 0.7*t.p.Rate + 0.3*inst // smooth out bursts, follow trends within ~2 s
		}
		t.sampleT, t.sampleN = now, t.p.Done
	}
	if !force && now.Sub(t.last) < progressInterval {
		return
	}
	t.last = now
	t.p.Elapsed = now.Sub(t.start)
	t.fn(t.p)
}

// finish reports the final state, with the average rate.
func (t *tracker) finish() {
	if t.fn == nil {
		return
	}
	t.p.Elapsed = time.Since(t.start)
	if s := t.p.Elapsed.Seconds(); s > 0 {
		t.p.Rate = float64(t.p.Done-t.p.Resumed) / s
	}
	t.p.FileDone = t.p.FileSize
	t.fn(t.p)
}

// DefaultStallAfter is how long a transfer may make no progress before it
// is reported as stalled.
const DefaultStallAfter = 20 * time.Second

// checkingEvery is how often a sender hashing a resume prefix tells the
// receiver it is still at work: well under any sensible StallAfter.
var checkingEvery = time.Second

// watchdog reports a transfer that makes no progress, so that a person sees
// a stall and its likely cause instead of a silent hang.
type watchdog struct {
	last atomic.Int64 // UnixNano of the last progress
	stop chan struct{}
	done chan struct{}
}

// startWatchdog calls onStall (from its own goroutine) once whenever no
// progress was made for after; nil onStall watches nothing.
func startWatchdog(after time.Duration, onStall func(idle time.Duration)) *watchdog {
	w := &watchdog{stop: make(chan struct{}), done: make(chan struct{})}
	w.touch()
	if onStall == nil {
		close(w.done)
		return w
	}
	if after <= 0 {
		after = DefaultStallAfter
	}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(min(after/4, time.Second))
		defer tick.Stop()
		var reported int64 // the progress mark already reported as stalled
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
				last := w.last.Load()
				if idle := time.Since(time.Unix(0, last)); idle >= after && last != reported {
					reported = last
					onStall(idle)
				}
			}
		}
	}()
	return w
}

func (w *watchdog) touch() { w.last.Store(time.Now().UnixNano()) }

// close stops the watchdog and waits for its goroutine.
func (w *watchdog) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}
