package pull

import "testing"

// FuzzParseContentRange: the header comes from the network; whatever it
// says, parsing must not panic and must not return a range that starts
// past its own size.
func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-9/10", "bytes 100-199/*", "bytes */10", "bytes -1-5/3", "bytes 9223372036854775807-0/9223372036854775807", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, size, err := parseContentRange(s)
		if err != nil {
			return
		}
		if start < 0 || (size >= 0 && size < start) {
			t.Fatalf("parseContentRange(%q) = %d, %d", s, start, size)
		}
	})
}
