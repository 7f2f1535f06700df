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
		{"numbered with blanks", "0 0_degree\n\n1 180_degree\n", []string{"0_degree", "180_degree"}, ""},
		{"numbered out of order", "1 b\n0 a\n2 c\n", []string{"a", "b", "c"}, ""},
		{"tab", "0\ta\n1\tb\n", []string{"a", "b"}, ""},
		{"trailing blanks", "a\nb\n\n\n", []string{"a", "b"}, ""},
		{"gap", "0 a\n2 b\n", nil, "no line for class 1"},
		{"twice", "0 a\n1 b\n0 c\n", nil, "line 3: class 0 again (first on line 1)"},
		{"negative", "0 a\n-1 b\n", nil, "out of range"},
		{"huge", "0 a\n99999999999 b\n", nil, "out of range"},
		{"mixed", "0 a\nb\n", nil, "has no class number"},
		{"blank inside", "a\n\nb\n", nil, "line 2 is blank"},
		{"blank first", "\na\nb\n", nil, "line 1 is blank"},
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
