package imaging

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/internal/testimage"
)

func TestEXIFOrientationAllValues(t *testing.T) {
	for o := 1; o <= 8; o++ {
		for _, order := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
			got, err := exifOrientation(testimage.EXIF(o, order))
			if err != nil || got != o {
				t.Errorf("%v orientation %d: got %d, %v", order, o, got, err)
			}
		}
	}
}

func TestEXIFOrientation(t *testing.T) {
	// Hand-assembled blocks, independent of testimage.EXIF.
	be6 := "MM\x00\x2a\x00\x00\x00\x08" + "\x00\x01" + "\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00" + "\x00\x00\x00\x00"
	le8 := "II\x2a\x00\x08\x00\x00\x00" + "\x01\x00" + "\x12\x01\x03\x00\x01\x00\x00\x00\x08\x00\x00\x00" + "\x00\x00\x00\x00"
	// Make, then Orientation 3, then a padding gap before IFD0.
	le3 := "II\x2a\x00\x0c\x00\x00\x00" + "XXXX" + "\x02\x00" +
		"\x0f\x01\x02\x00\x04\x00\x00\x00Go\x00\x00" +
		"\x12\x01\x03\x00\x01\x00\x00\x00\x03\x00\x00\x00" + "\x00\x00\x00\x00"
	long5 := "MM\x00\x2a\x00\x00\x00\x08" + "\x00\x01" + "\x01\x12\x00\x04\x00\x00\x00\x01\x00\x00\x00\x05" + "\x00\x00\x00\x00"
	noTag := "II\x2a\x00\x08\x00\x00\x00" + "\x01\x00" + "\x0f\x01\x02\x00\x04\x00\x00\x00Go\x00\x00"
	for _, c := range []struct {
		name, block string
		want        int
		err         string
	}{
		{"big-endian 6", be6, 6, ""},
		{"little-endian 8", le8, 8, ""},
		{"after another tag", le3, 3, ""},
		{"LONG type", long5, 5, ""},
		{"no orientation tag", noTag, 1, ""},
		{"empty IFD", "II\x2a\x00\x08\x00\x00\x00\x00\x00", 1, ""},
		{"too short", "II\x2a\x00", 0, "4 bytes"},
		{"bad byte order", "XX\x2a\x00\x08\x00\x00\x00\x00\x00", 0, "byte order"},
		{"bad magic", "II\x2b\x00\x08\x00\x00\x00\x00\x00", 0, "magic 43"},
		{"IFD past the end", "II\x2a\x00\xff\x00\x00\x00\x00\x00", 0, "offset 255"},
		{"IFD offset into header", "II\x2a\x00\x02\x00\x00\x00\x00\x00", 0, "offset 2"},
		{"huge offset", "II\x2a\x00\xff\xff\xff\xff\x00\x00", 0, "offset 4294967295"},
		{"entries past the end", "II\x2a\x00\x08\x00\x00\x00\xff\xff", 0, "65535 entries"},
		{"value 0", strings.Replace(be6, "\x00\x06\x00\x00\x00\x00", "\x00\x00\x00\x00\x00\x00", 1), 0, "orientation 0"},
		{"value 9", strings.Replace(le8, "\x08\x00\x00\x00\x00", "\x09\x00\x00\x00\x00", 1), 0, "orientation 9"},
		{"ASCII type", strings.Replace(le8, "\x12\x01\x03\x00", "\x12\x01\x02\x00", 1), 0, "type 2"},
		{"count 2", strings.Replace(le8, "\x03\x00\x01\x00", "\x03\x00\x02\x00", 1), 0, "count 2"},
	} {
		got, err := exifOrientation([]byte(c.block))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %d, %v; want an error saying %q", c.name, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %d, %v; want %d", c.name, got, err, c.want)
		}
	}
}

// TestJPEGEXIFSegments checks the APP1 search walks segments properly.
func TestJPEGEXIFSegments(t *testing.T) {
	exif6 := "Exif\x00\x00" + string(testimage.EXIF(6, binary.BigEndian))
	seg := func(marker byte, payload string) string {
		return string([]byte{0xff, marker, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}) + payload
	}
	soi := "\xff\xd8"
	sos := "\xff\xda\x00\x02"
	for _, c := range []struct {
		name, data string
		want       int
	}{
		{"first segment", soi + seg(0xe1, exif6) + sos, 6},
		{"after JFIF APP0", soi + seg(0xe0, "JFIF\x00\x01\x01") + seg(0xe1, exif6) + sos, 6},
		{"after XMP APP1", soi + seg(0xe1, "http://ns.adobe.com/xap/1.0/\x00<x/>") + seg(0xe1, exif6) + sos, 6},
		{"fill bytes before a marker", soi + "\xff\xff" + seg(0xe1, exif6), 6},
		{"after the scan starts", soi + sos + seg(0xe1, exif6), 1},
		{"segment length past the end", soi + "\xff\xe1\x7f\xff" + exif6, 1},
		{"segment length below 2", soi + "\xff\xe1\x00\x01" + exif6, 1},
		{"not a marker", soi + "\x00\x00" + seg(0xe1, exif6), 1},
		{"broken EXIF ignored", soi + seg(0xe1, "Exif\x00\x00II*\x00\xff\xff\xff\xff") + sos, 1},
		{"no EXIF", soi + sos, 1},
		{"not a JPEG", "\x89PNG", 1},
	} {
		if got := jpegOrientation([]byte(c.data)); got != c.want {
			t.Errorf("%s: orientation %d, want %d", c.name, got, c.want)
		}
	}
}
