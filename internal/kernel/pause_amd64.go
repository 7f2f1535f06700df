//go:build amd64

package kernel

//go:noescape
func spinPause()
