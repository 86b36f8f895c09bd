// Package reference locates the Fluent Bit 5.1.1 reference data kept in
// test/testdata/fluent-bit-5.1.1: a chunk a real Fluent Bit handed to a Go
// plugin and the exact bytes Fluent Bit's own formatters made of it. Every
// test that reads that data finds it through this one place.
package reference

import (
	"path/filepath"
	"runtime"
)

// Dir is the absolute path of test/testdata/fluent-bit-5.1.1.
var Dir = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "test", "testdata", "fluent-bit-5.1.1")
}()

// Path is the absolute path of one file of the reference data, named
// relative to Dir (e.g. "formats/input.msgpack").
func Path(name string) string { return filepath.Join(Dir, name) }

// Chunk is the path of the chunk Fluent Bit 5.1.1 handed to FLBPluginFlushCtx.
func Chunk() string { return Path("formats/input.msgpack") }
