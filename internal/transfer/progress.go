package transfer

import (
	"time"
)

// Progress is a snapshot of one transfer, for a progress bar.
type Progress struct {
	File      string // path of the current file in the manifest
	FileIndex int    // its index in Manifest.Entries
	FileDone  int64
	FileSize  int64
	Done      int64 // bytes of all files so far
	Total     int64
	Rate      float64 // bytes per second, smoothed; 0 until known
	Elapsed   time.Duration
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
	t.p.File, t.p.FileIndex, t.p.FileDone, t.p.FileSize = e.Path, i, 0, e.Size
	t.report(true)
}

// add counts n more bytes of the current file.
func (t *tracker) add(n int) {
	t.p.FileDone += int64(n)
	t.p.Done += int64(n)
	t.report(false)
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
		t.p.Rate = float64(t.p.Done) / s
	}
	t.p.FileDone = t.p.FileSize
	t.fn(t.p)
}
