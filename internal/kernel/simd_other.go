//go:build !amd64 || purego

package kernel

func simdImpls() []*impl { return nil }
