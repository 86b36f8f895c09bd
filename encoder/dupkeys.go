// dupkeys.go drops duplicate map keys the way Fluent Bit does (the last
// occurrence wins): a Bloom filter per map, and the exact check and
// compaction only for maps that may have one.

package encoder

import "encoding/binary"

// synthField is an entry Fluent Bit adds in front of a record's body,
// stored in entry.key as -1-field.
type synthField int

const (
	synthDate synthField = iota
	synthInternal
	synthLog
)

// dupTracker holds what the exact duplicate-key check needs.
type dupTracker struct {
	entries  []entry // entries of the open maps, innermost last
	tracking bool    // appendEntries records entries (see writeTracked)
	table    []int32 // markDups' hash table for large maps
}

// entry is a written map entry, kept until the map is closed so that
// duplicate keys can be dropped the way Fluent Bit does: only the last
// occurrence of a string key is written. It is kept small because every
// map entry of every record goes through the stack of them.
type entry struct {
	out  int   // start of the entry's output, after the separating comma
	key  int32 // chunk offset of a str key's bytes, or -1-field when synthetic
	klen int32
	hash uint32
	str  bool // the key is a msgpack str, the only keys Fluent Bit compares
	dup  bool
}

// keyHash hashes a map key 8 bytes at a time (little-endian words, the
// last one zero-padded), so that the short keys of log records take one
// multiplication. hash/maphash is as fast (BenchmarkKeyHash), but
// appendEntries computes this hash inline from the word it has already
// loaded to check and copy a short key.
func keyHash(k []byte) uint32 {
	h := uint64(len(k)) * 0x9e3779b97f4a7c15
	for len(k) >= 8 {
		h = mixWord(h, binary.LittleEndian.Uint64(k))
		k = k[8:]
	}
	if len(k) > 0 {
		var w uint64
		for i, c := range k {
			w |= uint64(c) << (8 * i)
		}
		h = mixWord(h, w)
	}
	return uint32(h >> 32)
}

func mixWord(h, w uint64) uint64 { return (h ^ w) * 0xff51afd7ed558ccd }

// keyFilter is a 256-bit Bloom filter (two bits per key) of the key hashes
// of one map. A map whose keys never hit it has no duplicate keys, which
// spares nearly every map the exact check.
type keyFilter [4]uint64

// add records h and reports whether it might have been seen before.
func (f *keyFilter) add(h uint32) bool {
	i, j := h>>24, h>>16&0xff
	wi, bi := &f[i>>6], uint64(1)<<(i&63)
	wj, bj := &f[j>>6], uint64(1)<<(j&63)
	seen := *wi&bi != 0 && *wj&bj != 0
	*wi |= bi
	*wj |= bj
	return seen
}

// entryKey returns the key bytes of a str-keyed entry.
func (e *Encoder) entryKey(en *entry) []byte {
	switch en.key {
	case -1 - int32(synthDate):
		return e.dateKey
	case -1 - int32(synthInternal):
		return keyInternal
	case -1 - int32(synthLog):
		return keyLog
	}
	return e.chunk[en.key : en.key+en.klen]
}

// writeTracked writes a map again with its entries recorded, which the
// first pass skips: only maps whose keyFilter saw a possible duplicate
// need them.
func (e *Encoder) writeTracked(write func() ([]byte, int, error)) ([]byte, int, error) {
	e.dups.tracking = true
	defer func() { e.dups.tracking = false }()
	return write()
}

// markDups flags every string key of e.dups.entries[base:] that appears again later
// in the same map, and reports whether there was any.
func (e *Encoder) markDups(base int) bool {
	ents := e.dups.entries[base:]
	found := false
	if len(ents) <= 32 {
		for i := 0; i < len(ents)-1; i++ {
			if !ents[i].str {
				continue
			}
			for j := i + 1; j < len(ents); j++ {
				if ents[j].hash == ents[i].hash && ents[j].str && string(e.entryKey(&ents[j])) == string(e.entryKey(&ents[i])) {
					ents[i].dup, found = true, true
					break
				}
			}
		}
		return found
	}
	size := 64
	for size < 2*len(ents) {
		size *= 2
	}
	if cap(e.dups.table) < size {
		e.dups.table = make([]int32, size)
	}
	table := e.dups.table[:size]
	for i := range table {
		table[i] = -1
	}
	mask := uint32(size - 1)
	for i := len(ents) - 1; i >= 0; i-- {
		if !ents[i].str {
			continue
		}
		key := e.entryKey(&ents[i])
		for slot := ents[i].hash & mask; ; slot = (slot + 1) & mask {
			j := table[slot]
			if j < 0 {
				table[slot] = int32(i)
				break
			}
			if string(e.entryKey(&ents[j])) == string(key) {
				ents[i].dup, found = true, true
				break
			}
		}
	}
	return found
}

// compact drops the entries of e.dups.entries[base:] flagged as duplicates from the
// map written at dst[open:], moving the others down.
func (e *Encoder) compact(dst []byte, open, base int) []byte {
	ents := e.dups.entries[base:]
	w := open
	for i, en := range ents {
		end := len(dst)
		if i+1 < len(ents) {
			end = ents[i+1].out - 1 // before the comma
		}
		if en.dup {
			continue
		}
		if w > open {
			dst[w] = ','
			w++
		}
		w += copy(dst[w:], dst[en.out:end])
	}
	return dst[:w]
}
