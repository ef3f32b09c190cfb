package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
	"github.com/google/go-cmp/cmp"
)

// The server side is encoded with go-asn1-ber, as an independent check of
// the decoder.

func envelope(id int64, op *ber.Packet, controls ...goldap.Control) []byte {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, ""))
	p.AppendChild(op)
	if len(controls) > 0 {
		c := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "")
		for _, ctl := range controls {
			c.AppendChild(ctl.Encode())
		}
		p.AppendChild(c)
	}
	return p.Bytes()
}

func entryPDU(id int64, dn string, attrs [][2]any) []byte {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, OpSearchResultEntry, nil, "")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, ""))
	list := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	for _, a := range attrs {
		pa := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		pa.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a[0].(string), ""))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "")
		for _, v := range a[1].([]string) {
			set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, ""))
		}
		pa.AppendChild(set)
		list.AppendChild(pa)
	}
	op.AppendChild(list)
	return envelope(id, op)
}

func resultPDU(id int64, tag ber.Tag, code int64, diag string, refs []string, controls ...goldap.Control) []byte {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, tag, nil, "")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, code, ""))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "dc=x", ""))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, diag, ""))
	if len(refs) > 0 {
		r := ber.Encode(ber.ClassContext, ber.TypeConstructed, 3, nil, "")
		for _, u := range refs {
			r.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, u, ""))
		}
		op.AppendChild(r)
	}
	return envelope(id, op, controls...)
}

func refPDU(id int64, urls ...string) []byte {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, OpSearchResultRef, nil, "")
	for _, u := range urls {
		op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, u, ""))
	}
	return envelope(id, op)
}

func stream() []byte {
	long := strings.Repeat("x", 70000) // a long-form length of three octets
	paging := goldap.NewControlPaging(1000)
	paging.SetCookie([]byte("next\x00page"))
	var b bytes.Buffer
	b.Write(entryPDU(7, "uid=a,ou=people,dc=x", [][2]any{{"uid", []string{"a"}}, {"cn", []string{"A", "Ä b"}}, {"empty", []string{""}}}))
	b.Write(entryPDU(7, "uid=b,dc=x", [][2]any{{"description", []string{long}}}))
	b.Write(refPDU(7, "ldap://other/dc=y", "ldap://third/dc=z"))
	b.Write(resultPDU(7, OpSearchResultDone, 0, "", nil, paging))
	b.Write(resultPDU(8, OpSearchResultDone, 4, "size limit", []string{"ldap://r"}))
	return b.Bytes()
}

func TestReaderDecodesWhatAServerSends(t *testing.T) {
	r := NewReader(bytes.NewReader(stream()), 16) // a tiny buffer: messages span reads
	var e Entry
	type got struct {
		DN    string
		Attrs map[string][]string
	}
	var entries []got
	for i := 0; i < 2; i++ {
		m, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if m.ID != 7 || m.Tag != OpSearchResultEntry || m.Controls != nil {
			t.Fatalf("message %d: id %d tag %d controls %x", i, m.ID, m.Tag, m.Controls)
		}
		if err := e.Decode(m.Op); err != nil {
			t.Fatal(err)
		}
		g := got{DN: string(e.DN), Attrs: map[string][]string{}}
		for _, a := range e.Attrs {
			for _, v := range a.Values {
				g.Attrs[string(a.Name)] = append(g.Attrs[string(a.Name)], string(v))
			}
		}
		entries = append(entries, g)
	}
	want := []got{
		{"uid=a,ou=people,dc=x", map[string][]string{"uid": {"a"}, "cn": {"A", "Ä b"}, "empty": {""}}},
		{"uid=b,dc=x", map[string][]string{"description": {strings.Repeat("x", 70000)}}},
	}
	if d := cmp.Diff(want, entries); d != "" {
		t.Errorf("entries (-want +got):\n%s", d)
	}

	m, err := r.Next()
	if err != nil || m.Tag != OpSearchResultRef {
		t.Fatalf("reference: %+v %v", m, err)
	}
	refs, err := References(m.Op)
	if err != nil || strings.Join(refs, " ") != "ldap://other/dc=y ldap://third/dc=z" {
		t.Errorf("references %q %v", refs, err)
	}

	m, err = r.Next()
	if err != nil || m.Tag != OpSearchResultDone {
		t.Fatalf("done: %+v %v", m, err)
	}
	res, err := ParseResult(m.Op)
	if err != nil || res.Code != 0 || res.MatchedDN != "dc=x" {
		t.Errorf("result %+v %v", res, err)
	}
	v, ok, err := Control(m.Controls, PagingOID)
	if err != nil || !ok {
		t.Fatalf("paging control: %v %v", ok, err)
	}
	cookie, err := PagingCookie(v)
	if err != nil || string(cookie) != "next\x00page" {
		t.Errorf("cookie %q %v", cookie, err)
	}
	if _, ok, _ := Control(m.Controls, "1.2.3"); ok {
		t.Error("found a control that is not there")
	}

	m, err = r.Next()
	if err != nil {
		t.Fatal(err)
	}
	res, err = ParseResult(m.Op)
	if err != nil || m.ID != 8 || res.Code != 4 || res.Diagnostic != "size limit" || len(res.Referrals) != 1 {
		t.Errorf("limit result %+v %v", res, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after the last message: %v, want EOF", err)
	}
}

func TestReaderRefusesWhatLDAPForbids(t *testing.T) {
	good := entryPDU(1, "dc=x", [][2]any{{"cn", []string{"x"}}})
	for name, b := range map[string][]byte{
		"truncated":          good[:len(good)-1],
		"indefinite length":  append([]byte{0x30, 0x80}, good[2:]...),
		"not a sequence":     append([]byte{0x31}, good[1:]...),
		"length of 5 octets": {0x30, 0x85, 1, 0, 0, 0, 0},
		"multi-octet tag":    {0x30, 0x05, 0x02, 0x01, 0x01, 0x7f, 0x00},
	} {
		t.Run(name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(b), 64)
			m, err := r.Next()
			if err == nil {
				var e Entry
				err = e.Decode(m.Op)
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if name == "truncated" && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("err = %v, want unexpected EOF", err)
			}
		})
	}
	r := NewReader(bytes.NewReader(good), 64)
	r.Max = 10
	if _, err := r.Next(); !errors.Is(err, ErrMalformed) {
		t.Errorf("over the size limit: %v", err)
	}
}

func TestRequestsDecodeAsLDAP(t *testing.T) {
	f, err := goldap.CompileFilter("(&(objectClass=person)(uid=a*))")
	if err != nil {
		t.Fatal(err)
	}
	req := Search(300, SearchRequest{Base: "ou=people,dc=x", Scope: 2, Filter: f.Bytes(), Attrs: []string{"uid", "cn"}, PageSize: 1000, Cookie: []byte("c")})
	p, err := ber.DecodePacketErr(req)
	if err != nil {
		t.Fatal(err)
	}
	if id := p.Children[0].Value; id != int64(300) {
		t.Errorf("message id %v", id)
	}
	op := p.Children[1]
	if op.ClassType != ber.ClassApplication || op.Tag != 3 || len(op.Children) != 8 {
		t.Fatalf("search op %+v", op.Identifier)
	}
	if op.Children[0].Value != "ou=people,dc=x" || op.Children[1].Value != int64(2) || op.Children[5].Value != false {
		t.Errorf("base %v scope %v typesOnly %v", op.Children[0].Value, op.Children[1].Value, op.Children[5].Value)
	}
	if filter, err := goldap.DecompileFilter(op.Children[6]); err != nil || filter != "(&(objectClass=person)(uid=a*))" {
		t.Errorf("filter %q %v", filter, err)
	}
	ctl, err := goldap.DecodeControl(p.Children[2].Children[0])
	if err != nil {
		t.Fatal(err)
	}
	pg, ok := ctl.(*goldap.ControlPaging)
	if !ok || pg.PagingSize != 1000 || string(pg.Cookie) != "c" {
		t.Errorf("paging control %v", ctl)
	}

	bind, err := ber.DecodePacketErr(SimpleBind(1, "cn=r,dc=x", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	b := bind.Children[1]
	if b.Tag != 0 || b.Children[0].Value != int64(3) || b.Children[1].Value != "cn=r,dc=x" || b.Children[2].Data.String() != "pw" {
		t.Errorf("bind %+v", b.Children)
	}
	for _, raw := range [][]byte{StartTLS(2), Unbind(3)} {
		if _, err := ber.DecodePacketErr(raw); err != nil {
			t.Errorf("%x: %v", raw, err)
		}
	}
}

func TestIntegers(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 255, 256, -1, -128, -129, 1 << 40, -(1 << 40), 1<<63 - 1} {
		_, content, _, err := Next(integer(0x02, v))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := Int(content); err != nil || got != v {
			t.Errorf("%d encodes as %x, decodes as %d %v", v, content, got, err)
		}
	}
}

func TestDecodingAnEntryAllocatesNothing(t *testing.T) {
	b := entryPDU(1, "uid=a,dc=x", [][2]any{{"uid", []string{"a"}}, {"cn", []string{"A", "B"}}, {"mail", []string{"a@x"}}})
	var e Entry
	m, _ := ParseMessage(b[2:])
	_ = e.Decode(m.Op)
	if n := testing.AllocsPerRun(100, func() {
		m, _ := ParseMessage(b[2:])
		_ = e.Decode(m.Op)
	}); n != 0 {
		t.Errorf("%v allocations per entry", n)
	}
}

// FuzzReader feeds arbitrary bytes through everything that decodes: no
// input may panic or loop.
func FuzzReader(f *testing.F) {
	f.Add(stream())
	f.Add([]byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff})
	f.Add(Search(1, SearchRequest{Base: "dc=x", Filter: []byte{0x87, 0x01, 'x'}, PageSize: 5}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b), 16)
		r.Max = 1 << 20
		var e Entry
		for {
			m, err := r.Next()
			if err != nil {
				return
			}
			_ = e.Decode(m.Op)
			_, _ = ParseResult(m.Op)
			_, _ = References(m.Op)
			if v, ok, err := Control(m.Controls, PagingOID); ok && err == nil {
				_, _ = PagingCookie(v)
			}
			_, _ = PagingCookie(m.Op)
		}
	})
}
