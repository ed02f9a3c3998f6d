package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/epicshare/epicshare/internal/natshub"
	"github.com/epicshare/epicshare/internal/rendezvous"
)

// natsFlags are the flags that make this server one node of several.
type natsFlags struct {
	urls, creds, ca, prefix string
}

func (f *natsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.urls, "nats", "", "run as one node of several: route to peers on other nodes through the NATS cluster at these comma-separated `URLs`, e.g. nats://a:4222,nats://b:4222")
	fs.StringVar(&f.creds, "nats-creds", "", "authenticate to NATS with this credentials `file` (JWT and NKey seed)")
	fs.StringVar(&f.ca, "nats-ca", "", "trust this PEM `file` of CA certificates for NATS over TLS (tls:// URLs)")
	fs.StringVar(&f.prefix, "nats-prefix", natshub.DefaultPrefix, "start every NATS subject with this `prefix`, so that deployments can share a cluster")
}

func (f *natsFlags) check(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if f.urls == "" && (set["nats-creds"] || set["nats-ca"] || set["nats-prefix"]) {
		return errors.New("--nats-creds, --nats-ca and --nats-prefix need --nats")
	}
	return nil
}

// cluster is this node's connection to the others.
type cluster struct {
	nc         *nats.Conn
	hub        *natshub.Hub
	reconnects prometheus.Counter
}

// connect joins the NATS cluster. It waits for the first connection: a
// node that cannot reach its cluster would strand its peers.
func (f *natsFlags) connect(log *slog.Logger) (*cluster, error) {
	c := &cluster{reconnects: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "epicshare_nats_reconnects_total", Help: "Times the connection to NATS came back after a loss.",
	})}
	opts := []nats.Option{
		nats.Name("epicshare-signal"),
		nats.MaxReconnects(-1), // keep trying: /healthz says unhealthy meanwhile
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("lost NATS; peers on other nodes are out of reach until it is back", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			c.reconnects.Inc()
			log.Info("NATS is back", "server", nc.ConnectedUrlRedacted())
		}),
	}
	if f.creds != "" {
		opts = append(opts, nats.UserCredentials(f.creds))
	}
	if f.ca != "" {
		opts = append(opts, nats.RootCAs(f.ca))
	}
	nc, err := nats.Connect(f.urls, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	hub, err := natshub.New(natshub.Config{Conn: nc, Logger: log, Prefix: f.prefix})
	if err != nil {
		nc.Close()
		return nil, err
	}
	c.nc, c.hub = nc, hub
	log.Info("joined the NATS cluster", "server", nc.ConnectedUrlRedacted(), "node", hub.Node())
	return c, nil
}

// use makes the broker route through the cluster.
func (c *cluster) use(cfg *rendezvous.Config) {
	cfg.Hub = c.hub
	cfg.Health = func() error {
		if !c.nc.IsConnected() {
			return errors.New("NATS disconnected: peers on other nodes are out of reach")
		}
		return nil
	}
	cfg.Collectors = append(cfg.Collectors, c.reconnects)
	cfg.Collectors = append(cfg.Collectors, c.hub.Collectors()...)
}

func (c *cluster) close() {
	c.hub.Close()
	c.nc.Drain()
}
