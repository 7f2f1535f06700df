//go:build !amd64

package kernel

func spinPause() {}
