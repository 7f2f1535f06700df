package imaging

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// tagOrientation is EXIF/TIFF tag 0x0112 (Orientation).
const tagOrientation = 0x0112

// jpegOrientation returns the EXIF orientation of a JPEG file, or 1 when
// there is none or the EXIF block is malformed: like cv2.imread, a broken
// EXIF block never makes an otherwise valid JPEG unreadable.
func jpegOrientation(data []byte) int {
	exif := jpegEXIF(data)
	if exif == nil {
		return 1
	}
	o, err := exifOrientation(exif)
	if err != nil {
		return 1
	}
	return o
}

// jpegEXIF returns the TIFF structure inside the first APP1 "Exif\0\0"
// segment before the first scan, or nil. It only walks segment headers, each
// of which advances at least 4 bytes, so it is linear in len(data).
func jpegEXIF(data []byte) []byte {
	if len(data) < 4 || data[0] != 0xff || data[1] != 0xd8 {
		return nil
	}
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xff {
			return nil // not at a marker: the segment chain is broken
		}
		m := data[i+1]
		switch {
		case m == 0xff: // fill byte
			i++
			continue
		case m == 0xd8 || m == 0x01 || (m >= 0xd0 && m <= 0xd7): // no length
			i += 2
			continue
		case m == 0xda || m == 0xd9: // start of scan, end of image
			return nil
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return nil
		}
		seg := data[i+4 : i+2+n]
		if m == 0xe1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			return seg[6:]
		}
		i += 2 + n
	}
	return nil
}

// tiffOrientation returns the Orientation tag of a TIFF file's first IFD,
// which has the same layout as an EXIF block.
func tiffOrientation(data []byte) (int, error) {
	return exifOrientation(data)
}

var errNoTIFFHeader = errors.New("no TIFF header")

// exifOrientation reads the Orientation tag from IFD0 of a TIFF-structured
// block (the payload of a JPEG APP1 Exif segment, or a TIFF file), in either
// byte order. It returns 1 when IFD0 has no Orientation tag, and an error
// saying where the block is malformed otherwise. It reads at most one IFD,
// so its cost is bounded by the 65535 entries an IFD can declare.
func exifOrientation(b []byte) (int, error) {
	if len(b) < 8 {
		return 0, fmt.Errorf("%w: %d bytes", errNoTIFFHeader, len(b))
	}
	var order binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 0, fmt.Errorf("%w: byte order %q", errNoTIFFHeader, b[:2])
	}
	if magic := order.Uint16(b[2:]); magic != 42 {
		return 0, fmt.Errorf("%w: magic %d, want 42", errNoTIFFHeader, magic)
	}
	off := int64(order.Uint32(b[4:]))
	if off < 8 || off+2 > int64(len(b)) {
		return 0, fmt.Errorf("IFD0 offset %d outside the %d-byte block", off, len(b))
	}
	n := int64(order.Uint16(b[off:]))
	entries := off + 2
	if entries+12*n > int64(len(b)) {
		return 0, fmt.Errorf("IFD0 at %d declares %d entries, past the end of the %d-byte block", off, n, len(b))
	}
	for i := range n {
		e := b[entries+12*i : entries+12*i+12]
		if order.Uint16(e) != tagOrientation {
			continue
		}
		typ, count := order.Uint16(e[2:]), order.Uint32(e[4:])
		if count != 1 {
			return 0, fmt.Errorf("orientation tag at %d has count %d, want 1", entries+12*i, count)
		}
		var v uint32
		switch typ {
		case 3: // SHORT, left-justified in the value field
			v = uint32(order.Uint16(e[8:]))
		case 4: // LONG, written by a few non-conforming tools
			v = order.Uint32(e[8:])
		default:
			return 0, fmt.Errorf("orientation tag at %d has type %d, want SHORT (3)", entries+12*i, typ)
		}
		if v < 1 || v > 8 {
			return 0, fmt.Errorf("orientation %d at %d is not in 1..8", v, entries+12*i)
		}
		return int(v), nil
	}
	return 1, nil
}
