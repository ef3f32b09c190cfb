package reconcile

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestBlocks(t *testing.T) {
	for _, n := range []int{0, 1, blockLen - 1, blockLen, blockLen + 1, 3*blockLen + 7} {
		// Grown for fewer, exactly as many, a few more and far more values than come.
		for _, hint := range []int{0, n / 2, n, n + 5, 3 * n} {
			t.Run(fmt.Sprintf("n=%d/grow=%d", n, hint), func(t *testing.T) { testBlocks(t, n, hint) })
		}
	}
}

func testBlocks(t *testing.T, n, hint int) {
	var b Blocks[int]
	b.Grow(hint)
	var want []int
	for i := range n {
		b.Append(i * 3)
		want = append(want, i*3)
	}
	if b.Len() != n {
		t.Fatalf("Len() = %d", b.Len())
	}
	for i := range n {
		if *b.At(i) != want[i] {
			t.Fatalf("At(%d) = %d, want %d", i, *b.At(i), want[i])
		}
	}
	// Keep the even values in place, then truncate, as a filter does.
	kept := 0
	for i := range n {
		if v := *b.At(i); v%2 == 0 {
			*b.At(kept) = v
			kept++
		}
	}
	b.Truncate(kept)
	b.Append(-1)
	var wantKept []int
	for _, v := range want {
		if v%2 == 0 {
			wantKept = append(wantKept, v)
		}
	}
	wantKept = append(wantKept, -1)
	got := b.Slice()
	if !slices.Equal(got, wantKept) || cap(got) != len(got) {
		t.Fatalf("Slice() = %d values (cap %d), want %d", len(got), cap(got), len(wantKept))
	}
	if b.Len() != 0 || b.Slice() != nil {
		t.Fatal("Blocks not empty after Slice")
	}
}

// A block reserved for as many values as come is handed over as it is, not copied.
func TestBlocksGrowHandsOverWithoutCopy(t *testing.T) {
	var b Blocks[int]
	b.Grow(3 * blockLen)
	for i := range 3*blockLen - 9 {
		b.Append(i)
	}
	first := b.At(0)
	got := b.Slice()
	if &got[0] != first {
		t.Fatal("Slice copied the values of the block Grow reserved")
	}
}

// Permute moves each value to its place, in the reserved block, the ordinary blocks and across
// them, from any starting index.
func TestBlocksPermute(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for _, n := range []int{0, 1, 2, blockLen + 1, 3*blockLen + 7} {
		for _, hint := range []int{0, n / 2} {
			var b Blocks[int]
			b.Grow(hint)
			for i := range n {
				b.Append(i)
			}
			from := r.IntN(n + 1)
			idx := make([]int32, n-from)
			for i := range idx {
				idx[i] = int32(i)
			}
			r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
			want := make([]int, n)
			for i := range want {
				want[i] = i
				if i >= from {
					want[i] = from + int(idx[i-from])
				}
			}
			b.Permute(from, idx)
			got := make([]int, n)
			for i := range got {
				got[i] = *b.At(i)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("n=%d grow=%d from=%d: got %v, want %v", n, hint, from, got[:min(n, 20)], want[:min(n, 20)])
			}
		}
	}
}

func TestSortUsers(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 1000} {
		us := make([]User, n)
		for i := range us {
			// A fixed shuffle: i*7919 mod a prime larger than n.
			us[i] = User{Key: fmt.Sprintf("k%06d", (i*7919)%1009), Username: fmt.Sprint(i)}
		}
		want := slices.Clone(us)
		slices.SortFunc(want, func(a, b User) int { return strings.Compare(a.Key, b.Key) })
		SortUsers(us, func(a, b *User) int { return strings.Compare(a.Key, b.Key) })
		if !slices.EqualFunc(us, want, func(a, b User) bool { return a.Key == b.Key && a.Username == b.Username }) {
			t.Fatalf("n=%d: SortUsers gave %v, want %v", n, us, want)
		}
	}
}

func TestAppendLower(t *testing.T) {
	for _, s := range []string{"", "ann.khan@example.com", "Ann.KHAN@Example.COM", "ZOË@example.com", "İstanbul", "a\x80b"} {
		if got := string(appendLower([]byte("x"), s)); got != "x"+strings.ToLower(s) {
			t.Errorf("appendLower(%q) = %q, want %q", s, got, "x"+strings.ToLower(s))
		}
	}
}
