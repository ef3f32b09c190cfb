// Package wire reads LDAP search results straight from the BER bytes on
// the connection, for the one search that moves a whole directory: the
// people search. A SearchResultEntry is decoded into slices of a buffer
// that is reused for the next message, so reading an entry allocates
// nothing; the caller copies what it keeps. go-ldap builds a tree of
// packets with a buffer per value for every entry, which costs more than
// the rest of a read together.
//
// Only what LDAPv3 (RFC 4511) allows is accepted: definite lengths, tags
// below 31. Requests are small and rare, and are encoded here too.
package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Protocol operation tags ([APPLICATION n]) this package reads.
const (
	OpBindResponse         = 1
	OpSearchResultEntry    = 4
	OpSearchResultDone     = 5
	OpSearchResultRef      = 19
	OpExtendedResponse     = 24
	OpIntermediateResponse = 25
)

// DefaultMaxMessage bounds one message (an entry with every value of its
// attributes). Active Directory hands out at most 1500 values per ranged
// attribute, so real entries stay far below it.
const DefaultMaxMessage = 64 << 20

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed BER")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Message is one LDAPMessage. Op and Controls point into the reader's
// buffer and are valid until the next call to Next.
type Message struct {
	ID int64
	// Tag is the protocol operation's application tag (OpSearchResultEntry, ...).
	Tag int
	// Op is the content of the protocol operation.
	Op []byte
	// Controls is the content of the [0] Controls element, or nil.
	Controls []byte
}

// Reader splits a byte stream into LDAP messages.
type Reader struct {
	r   *bufio.Reader
	buf []byte
	// Max is the largest message accepted (DefaultMaxMessage when 0).
	Max int
}

// NewReader reads messages from r through a buffer of size bytes.
func NewReader(r io.Reader, size int) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, size)}
}

// Next reads the next message. The returned message shares the reader's
// buffer.
func (r *Reader) Next() (Message, error) {
	tag, err := r.r.ReadByte()
	if err != nil {
		return Message{}, err
	}
	if tag != 0x30 {
		return Message{}, malformed("message starts with tag 0x%02x, want a SEQUENCE", tag)
	}
	n, err := r.readLength()
	if err != nil {
		return Message{}, err
	}
	limit := r.Max
	if limit <= 0 {
		limit = DefaultMaxMessage
	}
	if n > limit {
		return Message{}, malformed("message of %d bytes exceeds the limit of %d", n, limit)
	}
	if cap(r.buf) < n {
		r.buf = make([]byte, n, max(n, 2*cap(r.buf)))
	}
	r.buf = r.buf[:n]
	if _, err := io.ReadFull(r.r, r.buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Message{}, err
	}
	return ParseMessage(r.buf)
}

func (r *Reader) readLength() (int, error) {
	b, err := r.r.ReadByte()
	if err != nil {
		return 0, unexpected(err)
	}
	if b < 0x80 {
		return int(b), nil
	}
	k := int(b & 0x7f)
	if k == 0 || k > 4 {
		return 0, malformed("length with %d octets", k)
	}
	n := 0
	for range k {
		c, err := r.r.ReadByte()
		if err != nil {
			return 0, unexpected(err)
		}
		n = n<<8 | int(c)
	}
	if n < 0 {
		return 0, malformed("negative length")
	}
	return n, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ParseMessage decodes the content of an LDAPMessage SEQUENCE.
func ParseMessage(b []byte) (Message, error) {
	var m Message
	tag, id, rest, err := Next(b)
	if err != nil {
		return m, err
	}
	if tag != 0x02 {
		return m, malformed("message id has tag 0x%02x", tag)
	}
	if m.ID, err = Int(id); err != nil {
		return m, err
	}
	tag, m.Op, rest, err = Next(rest)
	if err != nil {
		return m, err
	}
	if tag&0xc0 != 0x40 {
		return m, malformed("protocol op has tag 0x%02x, want an APPLICATION tag", tag)
	}
	m.Tag = int(tag & 0x1f)
	if len(rest) > 0 {
		tag, ctrls, _, err := Next(rest)
		if err != nil {
			return m, err
		}
		if tag == 0xa0 {
			m.Controls = ctrls
		}
	}
	return m, nil
}

// Next splits the first element off b: its tag octet, its content, and
// what follows it.
func Next(b []byte) (tag byte, content, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, malformed("element truncated")
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, nil, malformed("multi-octet tag")
	}
	n, i := int(b[1]), 2
	if n >= 0x80 {
		k := n & 0x7f
		if k == 0 || k > 4 {
			return 0, nil, nil, malformed("length with %d octets", k)
		}
		if len(b) < 2+k {
			return 0, nil, nil, malformed("length truncated")
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		i += k
	}
	if n < 0 || n > len(b)-i {
		return 0, nil, nil, malformed("element of %d bytes in %d", n, len(b)-i)
	}
	return tag, b[i : i+n], b[i+n:], nil
}

// Int decodes a BER INTEGER or ENUMERATED content of at most 8 octets.
func Int(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 8 {
		return 0, malformed("integer of %d octets", len(b))
	}
	v := int64(int8(b[0]))
	for _, c := range b[1:] {
		v = v<<8 | int64(c)
	}
	return v, nil
}

// Entry is a decoded SearchResultEntry. Its slices point into the message
// it was decoded from.
type Entry struct {
	DN    []byte
	Attrs []Attr
}

// Attr is one attribute of an entry.
type Attr struct {
	Name   []byte
	Values [][]byte
}

// Decode decodes the content of a SearchResultEntry into e, reusing e's
// slices.
func (e *Entry) Decode(op []byte) error {
	tag, dn, rest, err := Next(op)
	if err != nil {
		return err
	}
	if tag != 0x04 {
		return malformed("entry name has tag 0x%02x", tag)
	}
	tag, list, _, err := Next(rest)
	if err != nil {
		return err
	}
	if tag != 0x30 {
		return malformed("attribute list has tag 0x%02x", tag)
	}
	e.DN = dn
	e.Attrs = e.Attrs[:0]
	for len(list) > 0 {
		var pa []byte
		if tag, pa, list, err = Next(list); err != nil {
			return err
		}
		if tag != 0x30 {
			return malformed("attribute has tag 0x%02x", tag)
		}
		var name, set []byte
		if tag, name, pa, err = Next(pa); err != nil {
			return err
		}
		if tag != 0x04 {
			return malformed("attribute type has tag 0x%02x", tag)
		}
		if tag, set, _, err = Next(pa); err != nil {
			return err
		}
		if tag != 0x31 {
			return malformed("attribute values have tag 0x%02x", tag)
		}
		if len(e.Attrs) < cap(e.Attrs) {
			e.Attrs = e.Attrs[:len(e.Attrs)+1]
		} else {
			e.Attrs = append(e.Attrs, Attr{})
		}
		a := &e.Attrs[len(e.Attrs)-1]
		a.Name, a.Values = name, a.Values[:0]
		for len(set) > 0 {
			var v []byte
			if tag, v, set, err = Next(set); err != nil {
				return err
			}
			if tag != 0x04 {
				return malformed("attribute value has tag 0x%02x", tag)
			}
			a.Values = append(a.Values, v)
		}
	}
	return nil
}

// Result is an LDAPResult (SearchResultDone, BindResponse, ...).
type Result struct {
	Code       int64
	MatchedDN  string
	Diagnostic string
	Referrals  []string
}

// ParseResult decodes the content of an operation that is an LDAPResult.
func ParseResult(op []byte) (Result, error) {
	var r Result
	tag, code, rest, err := Next(op)
	if err != nil {
		return r, err
	}
	if tag != 0x0a {
		return r, malformed("result code has tag 0x%02x", tag)
	}
	if r.Code, err = Int(code); err != nil {
		return r, err
	}
	var dn, diag []byte
	if _, dn, rest, err = Next(rest); err != nil {
		return r, err
	}
	if _, diag, rest, err = Next(rest); err != nil {
		return r, err
	}
	r.MatchedDN, r.Diagnostic = string(dn), string(diag)
	if len(rest) > 0 {
		tag, refs, _, err := Next(rest)
		if err != nil {
			return r, err
		}
		if tag == 0xa3 {
			for len(refs) > 0 {
				var u []byte
				if _, u, refs, err = Next(refs); err != nil {
					return r, err
				}
				r.Referrals = append(r.Referrals, string(u))
			}
		}
	}
	return r, nil
}

// References decodes the URIs of a SearchResultReference.
func References(op []byte) ([]string, error) {
	var out []string
	for len(op) > 0 {
		tag, u, rest, err := Next(op)
		if err != nil {
			return nil, err
		}
		if tag != 0x04 {
			return nil, malformed("reference has tag 0x%02x", tag)
		}
		out = append(out, string(u))
		op = rest
	}
	return out, nil
}

// Control finds the control named oid in the content of a Controls element
// and returns its value; found is false when it is absent.
func Control(ctrls []byte, oid string) (value []byte, found bool, err error) {
	for len(ctrls) > 0 {
		tag, c, rest, err := Next(ctrls)
		if err != nil {
			return nil, false, err
		}
		ctrls = rest
		if tag != 0x30 {
			return nil, false, malformed("control has tag 0x%02x", tag)
		}
		tag, typ, c, err := Next(c)
		if err != nil {
			return nil, false, err
		}
		if tag != 0x04 {
			return nil, false, malformed("control type has tag 0x%02x", tag)
		}
		if string(typ) != oid {
			continue
		}
		for len(c) > 0 {
			tag, v, r, err := Next(c)
			if err != nil {
				return nil, false, err
			}
			c = r
			if tag == 0x04 {
				return v, true, nil
			}
		}
		return nil, true, nil
	}
	return nil, false, nil
}

// PagingCookie decodes the value of a simple paged results control
// (RFC 2696): SEQUENCE { size INTEGER, cookie OCTET STRING }.
func PagingCookie(value []byte) ([]byte, error) {
	tag, seq, _, err := Next(value)
	if err != nil {
		return nil, err
	}
	if tag != 0x30 {
		return nil, malformed("paging value has tag 0x%02x", tag)
	}
	tag, _, seq, err = Next(seq)
	if err != nil {
		return nil, err
	}
	if tag != 0x02 {
		return nil, malformed("paging size has tag 0x%02x", tag)
	}
	tag, cookie, _, err := Next(seq)
	if err != nil {
		return nil, err
	}
	if tag != 0x04 {
		return nil, malformed("paging cookie has tag 0x%02x", tag)
	}
	return cookie, nil
}
