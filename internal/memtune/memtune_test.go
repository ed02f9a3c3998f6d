package memtune

import (
	"runtime/metrics"
	"testing"
)

func settings() (gogc, limit uint64) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

func TestTransfersRaiseGOGCUnderALimitAndTheLastRestores(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	gogc0, limit0 := settings()
	var tu Tuner
	end1 := tu.Begin()
	gogc, limit := settings()
	if gogc != transferGOGC {
		t.Errorf("GOGC during a transfer is %d, want %d", gogc, transferGOGC)
	}
	if used := goMemory(); limit < used || limit > used+Headroom+Headroom/2 {
		t.Errorf("memory limit %d MiB with %d MiB in use, want about %d MiB above it", limit>>20, used>>20, Headroom>>20)
	}
	end2 := tu.Begin()
	end1()
	end1() // a second call does nothing
	if g, l := settings(); g != transferGOGC || l != limit || tu.Active() != 1 {
		t.Errorf("with one transfer left: GOGC %d, limit %d, active %d", g, l, tu.Active())
	}
	end2()
	if g, l := settings(); g != gogc0 || l != limit0 || tu.Active() != 0 {
		t.Errorf("after the last transfer: GOGC %d limit %d, want %d and %d back", g, l, gogc0, limit0)
	}
}

func TestTheUsersSettingsWin(t *testing.T) {
	t.Setenv("GOGC", "150")
	gogc0, limit0 := settings()
	var tu Tuner
	end := tu.Begin()
	defer end()
	if g, l := settings(); g != gogc0 || l != limit0 {
		t.Errorf("GOGC set by the user, yet the Tuner changed GOGC to %d and the limit to %d", g, l)
	}
	var none *Tuner
	none.Begin()() // a nil Tuner does nothing
}
