package evaluagent

import (
	"github.com/go-json-experiment/json/jsontext"
	"strings"
	"testing"
)

// BenchmarkDecodeUserListing decodes one unpaged listing of 10k users as List does, element by
// element, without the HTTP round trip: the cost per listed user of the wire decoder alone.
func BenchmarkDecodeUserListing(b *testing.B) {
	body := usersPage(0, 10000, "")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var e userElem
	for b.Loop() {
		_, n, err := streamCollection(strings.NewReader(body), func(dec *jsontext.Decoder) error { return decodeUserElem(dec, &e) })
		if err != nil || n != 10000 {
			b.Fatalf("decoded %d users: %v", n, err)
		}
	}
}
