package ui

import (
	"image"

	"github.com/skip2/go-qrcode"
)

// qrImage renders link as a QR code large enough to scan from a phone at
// arm's length: 512 px with a quiet zone, medium error correction.
func qrImage(link string) (image.Image, error) {
	q, err := qrcode.New(link, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	return q.Image(512), nil
}
