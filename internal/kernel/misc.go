package kernel

// GlobalAvgPool sets out[c] (c < cs) to the mean of channel c over the hw
// pixels of an NHWC activation in.
func GlobalAvgPool(in []float32, hw, cs int, out []float32) {
	in, out = in[:hw*cs], out[:cs]
	clear(out)
	for p := 0; p < hw; p++ {
		active.add(out, in[p*cs:(p+1)*cs])
	}
	inv := 1 / float32(hw)
	for c := range out {
		out[c] *= inv
	}
}

// ScaleChannels multiplies channel c of every pixel of the NHWC activation
// x by s[c] (the SE block's channel attention).
func ScaleChannels(x []float32, hw, cs int, s []float32) {
	x, s = x[:hw*cs], s[:cs]
	for p := 0; p < hw; p++ {
		active.mul(x[p*cs:(p+1)*cs], s)
	}
}
