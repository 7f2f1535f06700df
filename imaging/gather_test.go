package imaging

import "image"

// gather returns the RGB pixels at every (xs[i], ys[j]) of img's displayed
// coordinates (relative to its bounds), row-major in j, through the
// sampler: the per-pixel reference the row readers are checked against.
func gather(img image.Image, xs, ys []int) []uint8 {
	src, o := img, 1
	if v, ok := img.(*Oriented); ok {
		src, o = v.Src, v.Orientation
	}
	sb := src.Bounds()
	s := newSampler(src)
	grid := make([]uint8, 3*len(xs)*len(ys))
	px, py := make([]int, len(xs)), make([]int, len(xs))
	for j, y := range ys {
		for i, x := range xs {
			sx, sy := orientMap(o, sb.Dx(), sb.Dy(), x, y)
			px[i], py[i] = sx+sb.Min.X, sy+sb.Min.Y
		}
		s.points(px, py, grid[3*j*len(xs):3*(j+1)*len(xs)])
	}
	return grid
}
