package kernel

// GlobalAvgPool sets out[c] to the mean of plane c (hw values each).
func GlobalAvgPool(in []float32, c, hw int, out []float32) {
	in, out = in[:c*hw], out[:c]
	inv := 1 / float32(hw)
	for ch := range out {
		plane := in[ch*hw : (ch+1)*hw]
		// Four partial sums: shorter dependency chains, and less rounding
		// drift than one running sum over a 112x112 plane.
		var s0, s1, s2, s3 float32
		i := 0
		for ; i+4 <= len(plane); i += 4 {
			s0 += plane[i]
			s1 += plane[i+1]
			s2 += plane[i+2]
			s3 += plane[i+3]
		}
		for ; i < len(plane); i++ {
			s0 += plane[i]
		}
		out[ch] = (s0 + s1 + s2 + s3) * inv
	}
}

// ScaleChannels multiplies every value of plane c by s[c] (the SE block's
// channel attention).
func ScaleChannels(x []float32, c, hw int, s []float32) {
	x, s = x[:c*hw], s[:c]
	for ch, sv := range s {
		plane := x[ch*hw : (ch+1)*hw]
		for i := range plane {
			plane[i] *= sv
		}
	}
}
