//go:build !amd64 || purego

package jpeg

// idct8Wide has no vector form here: idct8 and idct8Rows do every block.
func idct8Wide(_ *[64]int32, _ []byte, _ int, _ uint8) bool { return false }

// hasIDCT8Wide reports whether idct8Wide can run here: never.
func hasIDCT8Wide() bool { return false }
