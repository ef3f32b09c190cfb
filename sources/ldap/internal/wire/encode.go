package wire

// Requests are encoded once per page, so clarity wins over speed here.

// tlv encodes one element with a definite length.
func tlv(tag byte, content ...[]byte) []byte {
	n := 0
	for _, c := range content {
		n += len(c)
	}
	out := make([]byte, 0, n+6)
	out = append(out, tag)
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n <= 0xff:
		out = append(out, 0x81, byte(n))
	case n <= 0xffff:
		out = append(out, 0x82, byte(n>>8), byte(n))
	case n <= 0xffffff:
		out = append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		out = append(out, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	for _, c := range content {
		out = append(out, c...)
	}
	return out
}

func integer(tag byte, v int64) []byte {
	var b []byte
	for {
		b = append([]byte{byte(v)}, b...)
		if (v < 0x80 && v >= -0x80) || len(b) == 8 {
			break
		}
		v >>= 8
	}
	return tlv(tag, b)
}

func octets(tag byte, s string) []byte { return tlv(tag, []byte(s)) }

func message(id int64, op []byte, controls ...[]byte) []byte {
	parts := [][]byte{integer(0x02, id), op}
	if len(controls) > 0 {
		parts = append(parts, tlv(0xa0, controls...))
	}
	return tlv(0x30, parts...)
}

// SimpleBind encodes a version 3 simple BindRequest.
func SimpleBind(id int64, dn, password string) []byte {
	return message(id, tlv(0x60, integer(0x02, 3), octets(0x04, dn), octets(0x80, password)))
}

// StartTLSOID names the StartTLS extended operation.
const StartTLSOID = "1.3.6.1.4.1.1466.20037"

// StartTLS encodes the StartTLS ExtendedRequest.
func StartTLS(id int64) []byte {
	return message(id, tlv(0x77, octets(0x80, StartTLSOID)))
}

// Unbind encodes an UnbindRequest.
func Unbind(id int64) []byte { return message(id, []byte{0x42, 0x00}) }

// PagingOID names the simple paged results control (RFC 2696).
const PagingOID = "1.2.840.113556.1.4.319"

// SearchRequest is what Search encodes.
type SearchRequest struct {
	Base  string
	Scope int // 0 base, 1 one level, 2 subtree
	// Filter is the BER encoding of the filter.
	Filter []byte
	Attrs  []string
	// PageSize > 0 adds the paged results control with Cookie.
	PageSize int
	Cookie   []byte
}

// Search encodes a SearchRequest that never dereferences aliases and sets
// no size or time limit of its own.
func Search(id int64, r SearchRequest) []byte {
	attrs := make([][]byte, len(r.Attrs))
	for i, a := range r.Attrs {
		attrs[i] = octets(0x04, a)
	}
	op := tlv(0x63,
		octets(0x04, r.Base),
		integer(0x0a, int64(r.Scope)),
		integer(0x0a, 0),
		integer(0x02, 0),
		integer(0x02, 0),
		[]byte{0x01, 0x01, 0x00},
		r.Filter,
		tlv(0x30, attrs...),
	)
	if r.PageSize <= 0 {
		return message(id, op)
	}
	value := tlv(0x30, integer(0x02, int64(r.PageSize)), tlv(0x04, r.Cookie))
	return message(id, op, tlv(0x30, octets(0x04, PagingOID), tlv(0x04, value)))
}
