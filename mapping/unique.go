package mapping

import "hash/maphash"

// uniqueIndex finds which kept person holds a value: a key, or a
// lower-cased username or email. It keeps a 64-bit hash of each value and
// the holder's index, not the value, which the holder has already. At the
// end of a 100k-person read, when a pass's heap is largest, the three
// indexes hold about 7 MB where maps from the values held 15 MB.
//
// Two values with one hash are told apart by the holder's own value; the
// later one goes into a map by value, which stays empty in practice.
type uniqueIndex struct {
	hash  func(string) uint64
	first map[uint64]int32 // hash → holder
	more  map[string]int32 // value → holder, for values whose hash another value has
}

func newUniqueIndex(seed maphash.Seed, n int) uniqueIndex {
	return uniqueIndex{
		hash:  func(s string) uint64 { return maphash.String(seed, s) },
		first: make(map[uint64]int32, n),
	}
}

// spot is where find looked for a value, for add to record it there
// without hashing it again.
type spot struct {
	hash  uint64
	taken bool // another value has the hash
}

// find returns the holder of v; valueOf gives a holder's value.
func (x *uniqueIndex) find(v string, valueOf func(int32) string) (holder int32, found bool, at spot) {
	at.hash = x.hash(v)
	i, ok := x.first[at.hash]
	if !ok {
		return 0, false, at
	}
	if valueOf(i) == v {
		return i, true, at
	}
	at.taken = true
	i, ok = x.more[v]
	return i, ok, at
}

// add records i as the holder of v, which find did not find at at.
func (x *uniqueIndex) add(v string, at spot, i int32) {
	if !at.taken {
		x.first[at.hash] = i
		return
	}
	if x.more == nil {
		x.more = map[string]int32{}
	}
	x.more[v] = i
}
