package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// progressBar draws "label  12.3 MiB / 36.1 MiB  34%  5.2 MiB/s" on one
// terminal line. It draws nothing unless stderr is a terminal, so logs and
// tests see only the final result.
type progressBar struct {
	w     io.Writer
	label string
	tty   bool
	// count shows plain numbers ("120 / 400 images") instead of bytes.
	count string
	// after holds the bar back until the work has run this long, so a
	// quick write shows nothing.
	after time.Duration

	mu    sync.Mutex
	start time.Time
	last  time.Time
	drawn bool
}

func newProgressBar(w io.Writer, label string) *progressBar {
	f, ok := w.(*os.File)
	return &progressBar{w: w, label: label, tty: ok && term.IsTerminal(int(f.Fd())), start: time.Now()}
}

// Update is a func(done, total int64) for the readers and fetchers;
// total < 0 means unknown. Redraws are limited to ten a second.
func (p *progressBar) Update(done, total int64) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.start) < p.after {
		return
	}
	if p.drawn && now.Sub(p.last) < 100*time.Millisecond && done != total {
		return
	}
	p.last, p.drawn = now, true
	rate := ""
	human := humanBytes
	if p.count != "" {
		human = func(n int64) string { return fmt.Sprintf("%d %s", n, p.count) }
	}
	if el := now.Sub(p.start).Seconds(); el > 0.2 {
		rate = "  " + human(int64(float64(done)/el)) + "/s"
	}
	if total > 0 {
		fmt.Fprintf(p.w, "\r%s  %s / %s  %3d%%%s\x1b[K", p.label, human(done), human(total), done*100/total, rate)
	} else {
		fmt.Fprintf(p.w, "\r%s  %s%s\x1b[K", p.label, human(done), rate)
	}
}

// Done ends the bar's line.
func (p *progressBar) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
