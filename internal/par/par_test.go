package par

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestTwo runs both halves, and raises a panic from either one only once
// the other half has finished, after give.
func TestTwo(t *testing.T) {
	cases := []struct {
		name             string
		panicA, panicB   bool
		want             any
		wantGive, wantAB bool
	}{
		{name: "no panic", wantAB: true},
		{name: "panic on the new goroutine", panicA: true, want: "a", wantGive: true, wantAB: true},
		{name: "panic on the caller's", panicB: true, want: "b", wantGive: true, wantAB: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ranA, ranB, gave atomic.Bool
			var got any
			func() {
				defer func() { got = recover() }()
				Two(func() {
					// The slower half: a panic on the other must wait for it.
					time.Sleep(20 * time.Millisecond)
					ranA.Store(true)
					if c.panicA {
						panic("a")
					}
				}, func() {
					ranB.Store(true)
					if c.panicB {
						panic("b")
					}
				}, func() { gave.Store(true) })
			}()
			if got != c.want {
				t.Errorf("recovered %v, want %v", got, c.want)
			}
			if gave.Load() != c.wantGive {
				t.Errorf("give ran: %v, want %v", gave.Load(), c.wantGive)
			}
			if !ranA.Load() || !ranB.Load() {
				t.Errorf("returned before both halves finished: a %v, b %v", ranA.Load(), ranB.Load())
			}
		})
	}
	// A nil give is allowed.
	Two(func() {}, func() {}, nil)
}
