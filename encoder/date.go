// date.go writes the event time under the JSON date key, in every
// json_date_format, caching the text of the current day and second.

package encoder

import (
	"strconv"
	"time"
)

// dateCache writes event times in one date format. Records come many to a
// second, so the text of the last day and second is kept for the next:
// a thirtieth of the cost of package time's formatting (BenchmarkAppendTime).
type dateCache struct {
	format  DateFormat
	day     int64 // day whose date is in dayText
	dayOK   bool
	dayText []byte
	sec     int64 // second whose date and time are in secText
	secOK   bool
	secText []byte
}

// appendTime writes the time sec.nsec in c.format. Fluent Bit truncates to
// microseconds (iso8601, java_sql_timestamp) and milliseconds (epoch_ms);
// so does this.
func (c *dateCache) appendTime(dst []byte, sec, nsec int64) []byte {
	switch c.format {
	case DateEpoch:
		return strconv.AppendInt(dst, sec, 10)
	case DateEpochMillis:
		return strconv.AppendInt(dst, sec*1000+nsec/1e6, 10)
	case DateISO8601, DateJavaSQLTimestamp:
		if !c.secOK || sec != c.sec {
			c.sec, c.secOK = sec, true
			c.secText = c.appendSecond(c.secText[:0], sec)
		}
		us := nsec / 1000
		a, b, d := 2*(us/10000), 2*(us/100%100), 2*(us%100)
		dst = append(dst, c.secText...)
		dst = append(dst, digitPairs[a], digitPairs[a+1], digitPairs[b], digitPairs[b+1], digitPairs[d], digitPairs[d+1])
		if c.format == DateISO8601 {
			return append(dst, 'Z', '"')
		}
		return append(dst, '"')
	}
	return appendDouble(dst, float64(sec)+float64(nsec)/1e9)
}

// appendSecond writes the start of a quoted date, up to the '.' before the
// microseconds of second sec.
func (c *dateCache) appendSecond(dst []byte, sec int64) []byte {
	days, secs := sec/86400, sec%86400
	if secs < 0 {
		days, secs = days-1, secs+86400
	}
	if !c.dayOK || days != c.day {
		c.day, c.dayOK = days, true
		// Once a day: package time's calendar, which writes years as
		// strftime's %Y does (at least four digits, sign first).
		c.dayText = time.Unix(days*86400, 0).UTC().AppendFormat(c.dayText[:0], "2006-01-02")
	}
	dst = append(dst, '"')
	dst = append(dst, c.dayText...)
	sep := byte('T')
	if c.format == DateJavaSQLTimestamp {
		sep = ' '
	}
	h, m, s := secs/3600, secs/60%60, secs%60
	return append(dst, sep, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':',
		byte('0'+s/10), byte('0'+s%10), '.')
}
