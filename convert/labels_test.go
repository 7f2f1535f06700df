package convert

import (
	"slices"
	"strings"
	"testing"
)

func TestReadLabels(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
		err      string
	}{
		{"plain", "cat\ndog\n", []string{"cat", "dog"}, ""},
		{"numbered", "0 tench, Tinca tinca\n1 goldfish\n\n", []string{"tench, Tinca tinca", "goldfish"}, ""},
		{"crlf bom", "\ufeff0 a\r\n1 b\r\n", []string{"a", "b"}, ""},
		{"name with number", "7up\n", []string{"7up"}, ""},
		{"gap", "0 a\n2 b\n", nil, "class number 2, want 1"},
		{"mixed", "0 a\nb\n", nil, "has no class number"},
		{"blank inside", "a\n\nb\n", nil, "blank line"},
		{"empty", "\n", nil, "no labels"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadLabels(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
