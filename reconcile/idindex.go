package reconcile

import "hash/maphash"

// IDIndex places platform users by id. It is a table of positions
// addressed by the id's hash, probed one slot at a time; a slot holds the
// user's position plus one (0: empty), and an id is told from another by
// the user's own. A slot is 4 bytes and at least half the slots are empty,
// so 100k users take 1 MB, where a map from id took 4 MB (a string header
// and a value a slot, and room to grow) on top of the heap Diff is given,
// which at that point holds both states whole.
type IDIndex struct {
	seed     maphash.Seed
	mask     uint32
	slots    []int32
	users    []User
	distinct int // how many ids differ
}

// NewIDIndex places users by id; users must not change while it is used.
func NewIDIndex(users []User) *IDIndex {
	size := uint32(16)
	for size < 2*uint32(len(users)) {
		size <<= 1
	}
	x := &IDIndex{seed: maphash.MakeSeed(), mask: size - 1, slots: make([]int32, size), users: users}
	for i := range users {
		x.put(int32(i))
	}
	return x
}

// put places users[i]; of equal ids the last placed wins.
func (x *IDIndex) put(i int32) {
	id := x.users[i].ID
	for s := uint32(maphash.String(x.seed, id)) & x.mask; ; s = (s + 1) & x.mask {
		switch p := x.slots[s]; {
		case p == 0:
			x.slots[s] = i + 1
			x.distinct++
			return
		case x.users[p-1].ID == id:
			x.slots[s] = i + 1
			return
		}
	}
}

// Distinct returns how many ids differ: fewer than the users when two
// share one.
func (x *IDIndex) Distinct() int { return x.distinct }

// Find returns the position of the user with id; of users sharing an id,
// the last.
func (x *IDIndex) Find(id string) (int32, bool) {
	for s := uint32(maphash.String(x.seed, id)) & x.mask; ; s = (s + 1) & x.mask {
		p := x.slots[s]
		if p == 0 {
			return 0, false
		}
		if x.users[p-1].ID == id {
			return p - 1, true
		}
	}
}
