package peer

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// gsoSupported: Linux has UDP_SEGMENT since 4.18; a kernel or device
// that refuses it says so on the first run (see gsoRefused).
const gsoSupported = true

// segment writes into oob (reused when large enough) the control message
// that has the kernel cut a message into datagrams of size bytes.
func segment(oob []byte, size int) []byte {
	n := unix.CmsgSpace(2)
	if cap(oob) < n {
		oob = make([]byte, n)
	}
	oob = oob[:n]
	clear(oob)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&oob[unix.CmsgLen(0)])) = uint16(size)
	return oob
}

// gsoRefused says whether err means segmentation offload cannot work on
// this socket at all (an old kernel, a device without checksum offload),
// rather than for one message (EMSGSIZE, EINVAL for a run larger than
// the path's MTU allows).
func gsoRefused(err error) bool {
	return errors.Is(err, unix.EIO) || errors.Is(err, unix.ENOPROTOOPT) || errors.Is(err, unix.EOPNOTSUPP)
}
