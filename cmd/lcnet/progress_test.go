package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestProgressAfter: a bar held back by after draws nothing for work that
// ends sooner, and draws once the work has run that long.
func TestProgressAfter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		started time.Duration // how long ago the work started
		draws   bool
	}{
		{"quick write", 10 * time.Millisecond, false},
		{"slow write", 1500 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			p := &progressBar{w: &b, label: "writing m.pdparams", tty: true, start: time.Now().Add(-tc.started), after: progressAfter}
			p.Update(1<<20, 4<<20)
			p.Done()
			if drew := strings.Contains(b.String(), "writing m.pdparams"); drew != tc.draws {
				t.Errorf("drew %v, want %v: %q", drew, tc.draws, b.String())
			}
		})
	}
}
