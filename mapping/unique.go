package mapping

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

func newUniqueIndex(hash func(string) uint64, n int) uniqueIndex {
	return uniqueIndex{hash: hash, first: make(map[uint64]int32, n)}
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

// repeats counts, for a set of hashes, which come up more than once, to
// within a few percent: each hash falls in one of at least 16 slots a
// value, and a slot counts 0, 1 or "2 or more" in two bits. A value whose
// slot counted once is held by nobody else; the others (a repeat, or
// about 6% that share a slot by chance) must be looked up.
//
// It stands before the indexes when nobody is held yet: a million people
// with distinct usernames then cost two walks over 4 MB of counters,
// where a million lookups and inserts into a map of a million hashes
// miss the cache each time (BenchmarkRepeats: about 15 times faster at a
// million).
type repeats struct {
	mask   uint64
	counts []byte
}

func newRepeats(n int) repeats {
	slots := uint64(64)
	for slots < 16*uint64(n) {
		slots <<= 1
	}
	return repeats{mask: slots - 1, counts: make([]byte, slots/4)}
}

// slot is h's counter; a slot fits in 32 bits up to 2^28 values.
func (r *repeats) slot(h uint64) uint32 { return uint32(h & r.mask) }

func (r *repeats) add(s uint32) {
	shift := (s & 3) * 2
	if c := &r.counts[s>>2]; (*c>>shift)&3 < 2 {
		*c += 1 << shift
	}
}

// many reports whether slot s counted more than one hash.
func (r *repeats) many(s uint32) bool {
	return (r.counts[s>>2]>>((s&3)*2))&3 >= 2
}
