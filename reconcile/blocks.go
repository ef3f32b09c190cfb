package reconcile

import "slices"

// Blocks collects values in fixed-size blocks, so that a listing or a
// mapping of a million people grows without copying what it already holds
// (a growing slice copies it over and over and leaves each old copy to the
// collector). Slice hands the values over in one slice of exactly their
// length. The zero value is empty and ready to use.
//
// When the number to come is known roughly (the last pass's), Grow reserves
// it as one first block: a pass of the usual size then fills that block and
// Slice hands it over without the copy, which for a million people is a
// second copy of every one of them for the collector.
type Blocks[T any] struct {
	head   []T // the block Grow reserved, filled before the others
	blocks [][]T
	n      int
}

// blockLen is the number of values per block: large enough that the blocks'
// own slice stays small, small enough that an almost empty last block wastes
// little.
const blockLen = 4096

// Len returns the number of values held.
func (b *Blocks[T]) Len() int { return b.n }

// Grow reserves room for n values in one block. It does nothing unless b is
// empty and n is more than one ordinary block.
func (b *Blocks[T]) Grow(n int) {
	if b.n == 0 && b.head == nil && b.blocks == nil && n > blockLen {
		b.head = make([]T, 0, n)
	}
}

// Append adds v at index Len().
func (b *Blocks[T]) Append(v T) {
	if len(b.head) < cap(b.head) {
		b.head = append(b.head, v)
		b.n++
		return
	}
	j := b.n - len(b.head)
	i := j % blockLen
	if i == 0 && j/blockLen == len(b.blocks) {
		b.blocks = append(b.blocks, make([]T, blockLen))
	}
	b.blocks[j/blockLen][i] = v
	b.n++
}

// At returns a pointer to the value at index i, valid until Truncate or
// Slice.
func (b *Blocks[T]) At(i int) *T {
	if i < len(b.head) {
		return &b.head[i]
	}
	j := i - len(b.head)
	return &b.blocks[j/blockLen][j%blockLen]
}

// Truncate keeps the first n values, zeroing the others so that they keep
// nothing alive.
func (b *Blocks[T]) Truncate(n int) {
	for i := n; i < b.n; i++ {
		var zero T
		*b.At(i) = zero
	}
	if n <= len(b.head) {
		b.head = b.head[:n]
		clear(b.blocks)
		b.blocks = nil
	} else {
		keep := (n - len(b.head) + blockLen - 1) / blockLen
		clear(b.blocks[keep:])
		b.blocks = b.blocks[:keep]
	}
	b.n = n
}

// Slice returns the values in one slice of exactly Len() elements (nil when
// empty) and empties b. Each block is released as soon as it is copied. The
// block Grow reserved is handed over as it is when it holds every value and
// at least seven eighths of its room is used (past that its spare room costs
// more than a copy).
func (b *Blocks[T]) Slice() []T {
	defer func() { b.head, b.blocks, b.n = nil, nil, 0 }()
	if b.n == 0 {
		return nil
	}
	if len(b.blocks) == 0 && 8*len(b.head) >= 7*cap(b.head) {
		return b.head[:len(b.head):len(b.head)]
	}
	out := make([]T, 0, b.n)
	out = append(out, b.head...)
	b.head = nil
	for i, blk := range b.blocks {
		out = append(out, blk[:min(blockLen, b.n-len(out))]...)
		b.blocks[i] = nil
	}
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
	permute(func(i int) *User { return &us[i] }, idx)
}

// Permute reorders the values from index from on: the value at from+idx[i]
// moves to from+i, each value once. idx must hold every index 0…n-1 once,
// for n = Len()-from; it is overwritten.
func (b *Blocks[T]) Permute(from int, idx []int32) {
	permute(func(i int) *T { return b.At(from + i) }, idx)
}

// permute moves the value at idx[i] to i for every i, following each cycle
// once and marking each position done by pointing it at itself.
func permute[T any](at func(int) *T, idx []int32) {
	for i := range idx {
		if idx[i] == int32(i) {
			continue
		}
		tmp := *at(i)
		j := i
		for {
			k := int(idx[j])
			idx[j] = int32(j)
			if k == i {
				*at(j) = tmp
				break
			}
			*at(j) = *at(k)
			j = k
		}
	}
}
