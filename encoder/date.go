// date.go writes the event time under the JSON date key, in every
// json_date_format, caching the text of the current day and second.

package encoder

import "strconv"

// appendDate writes the event time in the configured date format. Fluent
// Bit truncates to microseconds (iso8601, java_sql_timestamp) and
// milliseconds (epoch_ms); so does this.
func (e *Encoder) appendDate(dst []byte, ev *rawEvent) []byte {
	switch e.opts.DateFormat {
	case DateEpoch:
		return appendDec(dst, ev.sec)
	case DateEpochMillis:
		return appendDec(dst, ev.sec*1000+ev.nsec/1e6)
	case DateISO8601, DateJavaSQLTimestamp:
		// Records come many to a second: all but the microseconds is
		// kept from the previous one.
		if !e.secOK || ev.sec != e.sec {
			e.sec, e.secOK = ev.sec, true
			e.secText = e.appendSecond(e.secText[:0], ev.sec)
		}
		us := ev.nsec / 1000
		a, b, c := 2*(us/10000), 2*(us/100%100), 2*(us%100)
		dst = append(dst, e.secText...)
		dst = append(dst, digitPairs[a], digitPairs[a+1], digitPairs[b], digitPairs[b+1], digitPairs[c], digitPairs[c+1])
		if e.opts.DateFormat == DateISO8601 {
			return append(dst, 'Z', '"')
		}
		return append(dst, '"')
	}
	return appendDouble(dst, float64(ev.sec)+float64(ev.nsec)/1e9)
}

// appendSecond writes the start of a quoted date, up to the '.' before the
// microseconds of second sec.
func (e *Encoder) appendSecond(dst []byte, sec int64) []byte {
	days, secs := sec/86400, sec%86400
	if secs < 0 {
		days, secs = days-1, secs+86400
	}
	if !e.dayOK || days != e.day {
		e.day, e.dayOK = days, true
		e.dayText = appendCivilDate(e.dayText[:0], days)
	}
	dst = append(dst, '"')
	dst = append(dst, e.dayText...)
	sep := byte('T')
	if e.opts.DateFormat == DateJavaSQLTimestamp {
		sep = ' '
	}
	h, m, s := secs/3600, secs/60%60, secs%60
	return append(dst, sep, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':',
		byte('0'+s/10), byte('0'+s%10), '.')
}

// appendCivilDate writes the proleptic Gregorian date of a day count since
// 1970-01-01 as YYYY-MM-DD (years padded to four digits, longer ones kept
// whole as strftime's %Y does).
func appendCivilDate(dst []byte, days int64) []byte {
	// Howard Hinnant's days_from_civil inverse, on eras of 400 years.
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	if y < 0 {
		dst = append(dst, '-')
		y = -y
	}
	for w := int64(1000); w > 1 && y < w; w /= 10 {
		dst = append(dst, '0')
	}
	dst = strconv.AppendInt(dst, y, 10)
	return append(dst, '-', byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10))
}
