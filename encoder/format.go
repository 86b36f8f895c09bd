// format.go names the options a user sets: formats, date formats, GELF
// keys.

package encoder

import (
	"fmt"
	"strings"
)

// Format is the payload layout sent to the server.
type Format int

// Payload formats, named as in Fluent Bit's "format" option.
const (
	Msgpack    Format = iota // the chunk unchanged, in BINARY frames
	JSON                     // one JSON array of records
	JSONStream               // records concatenated without separator
	JSONLines                // one record per line, newline-terminated
	GELF                     // GELF 1.1 objects, newline-separated
)

var formatNames = [...]string{"msgpack", "json", "json_stream", "json_lines", "gelf"}

// ParseFormat maps a format name (case-insensitive) to its Format.
func ParseFormat(s string) (Format, error) {
	for i, name := range formatNames {
		if strings.EqualFold(s, name) {
			return Format(i), nil
		}
	}
	return 0, fmt.Errorf("unknown format %q (allowed: %s)", s, strings.Join(formatNames[:], ", "))
}

// String returns the configuration name of f.
func (f Format) String() string {
	if f >= 0 && int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Binary reports whether payloads of f go in BINARY frames; every other
// format is valid UTF-8 text and goes in TEXT frames.
func (f Format) Binary() bool { return f == Msgpack }

// DateFormat is how the JSON formats write the event time under the date key.
type DateFormat int

// Date formats, named as in Fluent Bit's "json_date_format" option.
const (
	DateDouble           DateFormat = iota // seconds as a double: 1795776000.5
	DateISO8601                            // "2026-11-27T10:40:00.500000Z"
	DateEpoch                              // whole seconds: 1795776000
	DateEpochMillis                        // milliseconds: 1795776000500
	DateJavaSQLTimestamp                   // "2026-11-27 10:40:00.500000"
)

var dateFormatNames = [...]string{"double", "iso8601", "epoch", "epoch_ms", "java_sql_timestamp"}

// ParseDateFormat maps a json_date_format value (case-insensitive) to its
// DateFormat. Like Fluent Bit it also accepts epoch_millis and
// epoch_milliseconds for epoch_ms.
func ParseDateFormat(s string) (DateFormat, error) {
	for i, name := range dateFormatNames {
		if strings.EqualFold(s, name) {
			return DateFormat(i), nil
		}
	}
	if strings.EqualFold(s, "epoch_millis") || strings.EqualFold(s, "epoch_milliseconds") {
		return DateEpochMillis, nil
	}
	return 0, fmt.Errorf("unknown date format %q (allowed: %s)", s, strings.Join(dateFormatNames[:], ", "))
}

// String returns the configuration name of d.
func (d DateFormat) String() string {
	if d >= 0 && int(d) < len(dateFormatNames) {
		return dateFormatNames[d]
	}
	return fmt.Sprintf("DateFormat(%d)", int(d))
}

// ParseDateKey maps a json_date_key value to the key to write: "" gives the
// default "date", and false/off/no (case-insensitive) give "", meaning no date
// key at all, as in Fluent Bit.
func ParseDateKey(s string) string {
	switch {
	case s == "":
		return "date"
	case strings.EqualFold(s, "false"), strings.EqualFold(s, "off"), strings.EqualFold(s, "no"):
		return ""
	}
	return s
}

// GELFKeys names the record keys that feed the GELF fields of the same
// meaning (Fluent Bit's gelf_*_key options).
type GELFKeys struct {
	ShortMessage, FullMessage, Host, Level, Timestamp string
}

// DefaultGELFKeys are Fluent Bit's defaults.
var DefaultGELFKeys = GELFKeys{
	ShortMessage: "short_message",
	FullMessage:  "full_message",
	Host:         "host",
	Level:        "level",
	Timestamp:    "timestamp",
}

// Options configure an Encoder.
type Options struct {
	Format     Format
	DateKey    string // JSON formats: key of the event time; "" writes none
	DateFormat DateFormat
	// EscapeUnicode writes non-ASCII characters as \uXXXX like Fluent Bit;
	// false writes them as raw UTF-8. Quotes, backslashes and control
	// characters are escaped either way.
	EscapeUnicode bool
	GELF          GELFKeys // empty fields take the DefaultGELFKeys value
	// MaxMessageSize, when positive, splits the payload at record
	// boundaries into messages of at most this many bytes, each a valid
	// payload on its own. A record larger than the limit travels alone.
	MaxMessageSize int
	// MessageLimit, when positive, is the hard cap on one message, which
	// bounds the memory a chunk takes to encode: without MaxMessageSize
	// the payload is split at this size; a text record whose own message
	// would be larger is dropped (Result.TooLarge), and its encoding is
	// stopped once past the limit. msgpack messages are the chunk's own
	// bytes and take no memory: a larger record travels alone.
	MessageLimit int
}
