package nearby

import (
	"strings"
	"testing"

	"github.com/pion/mdns/v2"

	"github.com/epicshare/epicshare/internal/wire"
)

// FuzzDecode: whatever a TXT record holds, decode refuses it or returns
// an announcement that passes its own checks, whose TXT decodes back to
// it.
func FuzzDecode(f *testing.F) {
	id, inbox, secret := wire.NewPeerID(), wire.NewPeerID(), wire.NewSecret()
	f.Add(id, "v=1\nid="+id+"\nn=Anna\np="+inbox+"\ns="+secret, uint16(8080))
	f.Add(id, "v=1\nid="+id+"\nn=\nn=x", uint16(1))
	f.Add("x", "v=2", uint16(0))
	f.Fuzz(func(t *testing.T, instance, txt string, port uint16) {
		in := mdns.ServiceInstance{Instance: instance, Service: Service, Port: port}
		for _, line := range strings.Split(txt, "\n") {
			k, v, _ := strings.Cut(line, "=")
			in.Text = append(in.Text, mdns.NewTXTString(k, v))
		}
		a, err := decode(in)
		if err != nil {
			return
		}
		if err := a.check(); err != nil {
			t.Fatalf("decoded %+v fails its check: %v", a, err)
		}
		back, err := decode(mdns.ServiceInstance{Instance: a.instance(), Service: Service, Port: uint16(a.Port), Text: a.txt()})
		if err != nil || back != a {
			t.Fatalf("round trip of %+v: %+v, %v", a, back, err)
		}
	})
}
