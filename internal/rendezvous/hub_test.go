package rendezvous_test

import (
	"testing"

	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/rendezvous/hubtest"
)

// Two brokers sharing the in-process hub are two nodes to their peers.
func TestLocalHubAcrossBrokers(t *testing.T) {
	hubtest.Run(t, func(t *testing.T, n int) []rendezvous.Hub {
		h := rendezvous.NewLocalHub()
		hubs := make([]rendezvous.Hub, n)
		for i := range hubs {
			hubs[i] = h
		}
		return hubs
	})
}
