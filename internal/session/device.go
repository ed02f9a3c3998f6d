package session

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/epicshare/epicshare/internal/nearby"
	"github.com/epicshare/epicshare/internal/wire"
)

// Device is this device as it proves itself to others (wire.DeviceProof):
// its long-lived key and the name people see. Keep the key: a device
// that others marked as one to always accept from is known by it.
type Device struct {
	Key  ed25519.PrivateKey
	Name string
}

// NewDevice makes a device with a fresh key.
func NewDevice(name string) *Device {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return &Device{Key: key, Name: nearby.CleanName(name)}
}

// ParseDevice makes the device whose key's seed is seed (as Seed gives
// it).
func ParseDevice(seed, name string) (*Device, error) {
	b, err := hex.DecodeString(seed)
	if err != nil || len(b) != ed25519.SeedSize {
		return nil, errors.New("the device key is damaged")
	}
	return &Device{Key: ed25519.NewKeyFromSeed(b), Name: nearby.CleanName(name)}, nil
}

// Seed is the device key's seed, to keep.
func (d *Device) Seed() string { return hex.EncodeToString(d.Key.Seed()) }

// ID is the device's ID (wire.DeviceID of its public key).
func (d *Device) ID() string { return wire.DeviceID(d.Key.Public().(ed25519.PublicKey)) }

// RemoteDevice is the device a peer proved it is.
type RemoteDevice struct {
	ID   string
	Name string
}

// ErrWrongDevice: the peer that answered is not the device that was
// picked (or proved none).
var ErrWrongDevice = errors.New("the device that answered is not the one picked")

// Announcement is what d announces to nearby devices for its inbox at
// link, a receive link on this device's own broker.
func (d *Device) Announcement(link wire.Link) (nearby.Announcement, error) {
	_, port, err := net.SplitHostPort(link.Server.Host)
	if err != nil {
		return nearby.Announcement{}, fmt.Errorf("the inbox's broker has no port: %w", err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nearby.Announcement{}, fmt.Errorf("the inbox's broker port %q: %w", port, err)
	}
	return nearby.Announcement{ID: d.ID(), Name: d.Name, Port: p, Inbox: link.ID, Secret: link.Secret}, nil
}
