// Package encoder turns a Fluent Bit chunk (the msgpack bytes handed to a Go
// output plugin's flush callback) into WebSocket message payloads: the chunk
// itself, JSON in Fluent Bit's three layouts, or GELF 1.1 (see GELF.md).
//
// The decoder is a hand-written cursor over the chunk bytes: it builds no
// generic trees, never writes into the chunk and reuses its output buffers,
// so encoding a chunk allocates nothing in steady state.
//
// # Compatibility
//
// The JSON formats are byte-identical to Fluent Bit 5.1.1's formatter
// (flb_pack_msgpack_to_json_format): the date key first, __internal__ with
// group_attributes and log_metadata when either is a non-empty map, only the
// last of duplicate string keys in every map, doubles as %.16g (%.1f when
// whole), non-ASCII as \uXXXX with surrogate pairs, DEL and control bytes
// escaped, microseconds and milliseconds truncated. It departs from Fluent
// Bit only where Fluent Bit's output is not valid JSON or not valid UTF-8, or
// where it cannot decode the chunk at all:
//
//   - invalid UTF-8 becomes U+FFFD (Fluent Bit drops bytes or maps them to
//     private-use characters);
//   - NaN and infinities are null (Fluent Bit prints nan and inf);
//   - ext values are "\\x01..." (Fluent Bit's "\x01" is an invalid escape),
//     with two hex digits per byte as on unsigned-char platforms;
//   - map keys that are not strings become strings: a bin's bytes, or the
//     JSON text of the key (Fluent Bit writes them bare, as in {1:"x"});
//   - a body that is not a map is written as {"log": body} (Fluent Bit's
//     decoder rejects such events and loses the rest of the chunk);
//   - ext type 0 seconds are unsigned, as in Fluentd's EventTime, so times
//     from 2038 to 2106 work (Fluent Bit reads them as int32 and rejects the
//     chunk); 0xffffffff and 0xfffffffe still mark group starts and ends;
//   - negative integer and float timestamps are dates before 1970 (Fluent
//     Bit rejects them, apart from the -1 and -2 of group markers); epoch
//     and epoch_ms are then negative;
//   - years are written with at least four digits (0001-01-01).
//
// Timestamps beyond ±2^52 seconds, ext type 0 nanoseconds of 1e9 or more
// and containers nested more than 64 deep are rejected as malformed; a
// chunk may have any size Fluent Bit can pass (a C int).
package encoder
