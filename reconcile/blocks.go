package reconcile

import "slices"

// Blocks collects values in fixed-size blocks, so that a listing or a
// mapping of a million people grows without copying what it already holds
// (a growing slice copies it over and over and leaves each old copy to the
// collector). Slice hands the values over in one slice of exactly their
// length. The zero value is empty and ready to use.
type Blocks[T any] struct {
	blocks [][]T
	n      int
}

// blockLen is the number of values per block: large enough that the blocks'
// own slice stays small, small enough that an almost empty last block wastes
// little.
const blockLen = 4096

// Len returns the number of values held.
func (b *Blocks[T]) Len() int { return b.n }

// Append adds v at index Len().
func (b *Blocks[T]) Append(v T) {
	i := b.n % blockLen
	if i == 0 && b.n/blockLen == len(b.blocks) {
		b.blocks = append(b.blocks, make([]T, blockLen))
	}
	b.blocks[b.n/blockLen][i] = v
	b.n++
}

// At returns a pointer to the value at index i, valid until Truncate or
// Slice.
func (b *Blocks[T]) At(i int) *T { return &b.blocks[i/blockLen][i%blockLen] }

// Truncate keeps the first n values, zeroing the others so that they keep
// nothing alive.
func (b *Blocks[T]) Truncate(n int) {
	for i := n; i < b.n; i++ {
		var zero T
		*b.At(i) = zero
	}
	keep := (n + blockLen - 1) / blockLen
	clear(b.blocks[keep:])
	b.blocks = b.blocks[:keep]
	b.n = n
}

// Slice returns the values in one slice of exactly Len() elements (nil when
// empty) and empties b. Each block is released as soon as it is copied.
func (b *Blocks[T]) Slice() []T {
	if b.n == 0 {
		b.blocks = nil
		return nil
	}
	out := make([]T, 0, b.n)
	for i, blk := range b.blocks {
		out = append(out, blk[:min(blockLen, b.n-len(out))]...)
		b.blocks[i] = nil
	}
	b.blocks, b.n = nil, 0
	return out
}

// SortUsers sorts us by cmp, which must be a total order (equal users would
// be left in an unspecified order). It sorts positions and then moves each
// user once: sorting the users themselves would copy a whole User on every
// swap, a million times twenty for a million people. Users already in order
// are left as they are after one pass.
func SortUsers(us []User, cmp func(a, b *User) int) {
	sorted := true
	for i := 1; i < len(us); i++ {
		if cmp(&us[i-1], &us[i]) > 0 {
			sorted = false
			break
		}
	}
	if sorted {
		return
	}
	idx := make([]int32, len(us))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int { return cmp(&us[a], &us[b]) })
	// Position i takes the user at idx[i]: follow each cycle once, marking
	// each position done by pointing it at itself.
	for i := range idx {
		if idx[i] == int32(i) {
			continue
		}
		tmp := us[i]
		j := i
		for {
			k := int(idx[j])
			idx[j] = int32(j)
			if k == i {
				us[j] = tmp
				break
			}
			us[j] = us[k]
			j = k
		}
	}
}
