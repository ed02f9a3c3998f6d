package nearby

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pion/mdns/v2"

	"github.com/epicshare/epicshare/internal/wire"
)

// Service is the DNS-SD service type EpicShare apps announce.
const Service = "_epicshare._tcp"

// The TXT record of an announcement, one key per field:
//
//	v=1            the layout's version
//	id=DEVICE-ID   wire.DeviceID of the device's public key
//	n=NAME         the device's name, for people
//	p=PEER-ID      the peer ID of its nearby inbox on its broker
//	s=SECRET       that inbox's receive-link secret
//
// The broker's port is the SRV record's, its address the A or AAAA
// record's. Nothing in it is trusted: a device proves its ID in the
// handshake (wire.DeviceProof), and the inbox still asks its person.
const txtVersion = "1"

// MaxNameBytes bounds a device name: one DNS label.
const MaxNameBytes = 63

// ErrBadRecord is wrapped by every refusal of an announcement.
var ErrBadRecord = errors.New("not an EpicShare announcement")

// Announcement is what a device says of itself on the network.
type Announcement struct {
	ID     string // its device ID
	Name   string // for people
	Port   int    // its broker's TCP port
	Inbox  string // the peer ID of its nearby inbox on that broker
	Secret string // that inbox's receive-link secret
}

// CleanName makes name fit an announcement: control characters and
// surrounding spaces dropped, cut to MaxNameBytes at a character
// boundary. It returns "" for a name with nothing left.
func CleanName(name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	for len(name) > MaxNameBytes {
		_, size := utf8.DecodeLastRuneInString(name)
		name = strings.TrimSpace(name[:len(name)-size])
	}
	return name
}

func (a Announcement) check() error {
	switch {
	case !wire.ValidPeerID(a.ID):
		return fmt.Errorf("%w: bad device ID", ErrBadRecord)
	case a.Name == "" || CleanName(a.Name) != a.Name:
		return fmt.Errorf("%w: bad name %q", ErrBadRecord, truncate(a.Name))
	case a.Port < 1 || a.Port > 65535:
		return fmt.Errorf("%w: bad port %d", ErrBadRecord, a.Port)
	case !wire.ValidPeerID(a.Inbox):
		return fmt.Errorf("%w: bad inbox ID", ErrBadRecord)
	case !wire.ValidSecret(a.Secret):
		return fmt.Errorf("%w: bad secret", ErrBadRecord)
	}
	return nil
}

// instance is the DNS-SD instance name: the device ID, unique on the
// network where names need not be (pion/mdns keys instances by name
// and resolves no conflicts).
func (a Announcement) instance() string { return a.ID }

func (a Announcement) txt() []mdns.TXTEntry {
	return []mdns.TXTEntry{
		mdns.NewTXTString("v", txtVersion),
		mdns.NewTXTString("id", a.ID),
		mdns.NewTXTString("n", a.Name),
		mdns.NewTXTString("p", a.Inbox),
		mdns.NewTXTString("s", a.Secret),
	}
}

// decode reads an announcement from a resolved instance, refusing
// anything malformed: another version, a missing or repeated field, an
// instance name that is not its device ID.
func decode(in mdns.ServiceInstance) (Announcement, error) {
	fields := map[string]string{}
	for _, e := range in.Text {
		k := strings.ToLower(e.Key)
		if _, dup := fields[k]; dup {
			return Announcement{}, fmt.Errorf("%w: repeated %q", ErrBadRecord, truncate(k))
		}
		fields[k] = string(e.Value)
	}
	if v := fields["v"]; v != txtVersion {
		return Announcement{}, fmt.Errorf("%w: version %q", ErrBadRecord, truncate(v))
	}
	a := Announcement{ID: fields["id"], Name: fields["n"], Port: int(in.Port), Inbox: fields["p"], Secret: fields["s"]}
	if err := a.check(); err != nil {
		return Announcement{}, err
	}
	if in.Instance != a.ID {
		return Announcement{}, fmt.Errorf("%w: instance %q is not its device ID", ErrBadRecord, truncate(in.Instance))
	}
	return a, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
