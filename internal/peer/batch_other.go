//go:build !linux

package peer

// Segmentation offload is Linux's; elsewhere the batch is not built.
const gsoSupported = false

func segment(oob []byte, _ int) []byte { return oob }

func gsoRefused(error) bool { return true }
