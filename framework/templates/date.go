package templates

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// defaultDateFormat is Django's default DATE_FORMAT.
const defaultDateFormat = "N j, Y"

// date is Django's date filter: {{.PubDate | date "N j, Y, P"}}, or
// {{.PubDate | date}} for "N j, Y". It takes a time.Time or *time.Time and
// formats it in its own location; nil and the zero time render "".
//
// Format characters (Django's): d j D l S w z  W  F M b E m n N t L  o y Y
// a A f g G h H i s u P  e I O T Z  c r U. A backslash makes the next
// character literal; any other character is copied.
func date(args ...any) (string, error) {
	format := defaultDateFormat
	switch len(args) {
	case 1:
	case 2:
		f, ok := args[0].(string)
		if !ok {
			return "", fmt.Errorf("date: format must be a string, not %T", args[0])
		}
		format = f
	default:
		return "", fmt.Errorf("date: want 1 or 2 arguments, got %d", len(args))
	}
	var t time.Time
	switch v := args[len(args)-1].(type) {
	case nil:
		return "", nil
	case time.Time:
		t = v
	case *time.Time:
		if v == nil {
			return "", nil
		}
		t = *v
	default:
		return "", fmt.Errorf("date: %w: %T", errNotTime, v)
	}
	if t.IsZero() {
		return "", nil
	}
	return FormatDate(t, format), nil
}

// FormatDate formats t by Django's format characters, as the date filter
// does, for Go code that shows dates as templates do (the admin's list
// pages: "N j, Y, P", Django's DATETIME_FORMAT).
func FormatDate(t time.Time, format string) string {
	return string(appendDate(make([]byte, 0, 2*len(format)+8), t, format))
}

// apMonths are the Associated Press month abbreviations of Django's "N".
var apMonths = [...]string{"Jan.", "Feb.", "March", "April", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec."}

// pyBool spells a bool as Django (Python) prints it.
var pyBool = [...]string{"False", "True"}

// appendDate appends t formatted by Django format characters to b.
func appendDate(b []byte, t time.Time, format string) []byte {
	for i := 0; i < len(format); {
		r, size := utf8.DecodeRuneInString(format[i:])
		i += size
		switch r {
		case '\\':
			if i < len(format) {
				r, size = utf8.DecodeRuneInString(format[i:])
				i += size
				b = utf8.AppendRune(b, r)
			}
		// Day.
		case 'd':
			b = appendPad2(b, t.Day())
		case 'j':
			b = strconv.AppendInt(b, int64(t.Day()), 10)
		case 'D':
			b = append(b, t.Weekday().String()[:3]...)
		case 'l':
			b = append(b, t.Weekday().String()...)
		case 'S':
			b = append(b, ordinal(t.Day())...)
		case 'w':
			b = strconv.AppendInt(b, int64(t.Weekday()), 10)
		case 'z':
			b = strconv.AppendInt(b, int64(t.YearDay()), 10)
		// Week.
		case 'W':
			_, w := t.ISOWeek()
			b = strconv.AppendInt(b, int64(w), 10)
		// Month.
		case 'F', 'E':
			b = append(b, t.Month().String()...)
		case 'M':
			b = append(b, t.Month().String()[:3]...)
		case 'b':
			m := t.Month().String()
			b = append(b, m[0]+('a'-'A'), m[1], m[2])
		case 'm':
			b = appendPad2(b, int(t.Month()))
		case 'n':
			b = strconv.AppendInt(b, int64(t.Month()), 10)
		case 'N':
			b = append(b, apMonths[t.Month()-1]...)
		case 't':
			b = strconv.AppendInt(b, int64(daysIn(t)), 10)
		case 'L':
			b = append(b, pyBool[boolToInt(daysInYear(t.Year()) == 366)]...)
		// Year.
		case 'o':
			y, _ := t.ISOWeek()
			b = strconv.AppendInt(b, int64(y), 10)
		case 'y':
			b = appendPad2(b, t.Year()%100)
		case 'Y':
			b = appendPadN(b, t.Year(), 4)
		// Time.
		case 'a':
			b = append(b, meridiem(t, "a.m.", "p.m.")...)
		case 'A':
			b = append(b, meridiem(t, "AM", "PM")...)
		case 'f':
			b = appendF(b, t)
		case 'g':
			b = strconv.AppendInt(b, int64(hour12(t)), 10)
		case 'G':
			b = strconv.AppendInt(b, int64(t.Hour()), 10)
		case 'h':
			b = appendPad2(b, hour12(t))
		case 'H':
			b = appendPad2(b, t.Hour())
		case 'i':
			b = appendPad2(b, t.Minute())
		case 's':
			b = appendPad2(b, t.Second())
		case 'u':
			b = appendPadN(b, t.Nanosecond()/1000, 6)
		case 'P':
			switch {
			case t.Minute() == 0 && t.Hour() == 0:
				b = append(b, "midnight"...)
			case t.Minute() == 0 && t.Hour() == 12:
				b = append(b, "noon"...)
			default:
				b = append(appendF(b, t), ' ')
				b = append(b, meridiem(t, "a.m.", "p.m.")...)
			}
		// Time zone.
		case 'e':
			b = append(b, t.Location().String()...)
		case 'I':
			b = append(b, "01"[boolToInt(t.IsDST())])
		case 'O':
			b = t.AppendFormat(b, "-0700")
		case 'T':
			b = t.AppendFormat(b, "MST")
		case 'Z':
			_, off := t.Zone()
			b = strconv.AppendInt(b, int64(off), 10)
		// Whole dates.
		case 'c':
			if t.Nanosecond()/1000 != 0 {
				b = t.AppendFormat(b, "2006-01-02T15:04:05.000000-07:00")
			} else {
				b = t.AppendFormat(b, "2006-01-02T15:04:05-07:00")
			}
		case 'r':
			b = t.AppendFormat(b, "Mon, 02 Jan 2006 15:04:05 -0700")
		case 'U':
			b = strconv.AppendInt(b, t.Unix(), 10)
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return b
}

// appendF is Django's "f": 12-hour time with the minutes left off when zero.
func appendF(b []byte, t time.Time) []byte {
	b = strconv.AppendInt(b, int64(hour12(t)), 10)
	if t.Minute() != 0 {
		b = append(b, ':')
		b = appendPad2(b, t.Minute())
	}
	return b
}

func hour12(t time.Time) int {
	if h := t.Hour() % 12; h != 0 {
		return h
	}
	return 12
}

func meridiem(t time.Time, am, pm string) string {
	if t.Hour() < 12 {
		return am
	}
	return pm
}

// ordinal is the English suffix of a day of the month (Django's "S").
func ordinal(day int) string {
	if day >= 11 && day <= 13 {
		return "th"
	}
	switch day % 10 {
	case 1:
		return "st"
	case 2:
		return "nd"
	case 3:
		return "rd"
	}
	return "th"
}

// daysIn is the number of days of t's month.
func daysIn(t time.Time) int {
	return time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func daysInYear(y int) int {
	return time.Date(y, time.December, 31, 0, 0, 0, 0, time.UTC).YearDay()
}

func appendPad2(b []byte, n int) []byte {
	return appendPadN(b, n, 2)
}

// appendPadN appends n in decimal, zero-padded to width digits.
func appendPadN(b []byte, n, width int) []byte {
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], int64(n), 10)
	for i := len(d); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, d...)
}

func boolToInt(v bool) int {
	if v {
		return 1
	}
	return 0
}
