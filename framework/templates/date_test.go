package templates

import (
	"errors"
	"testing"
	"time"
)

func TestDateFormat(t *testing.T) {
	cest := time.FixedZone("CEST", 2*60*60)
	wed := time.Date(2025, time.September, 3, 15, 30, 7, 123456, cest) // a Wednesday, 123 µs
	at := func(h, m int) time.Time { return time.Date(2025, time.September, 3, h, m, 0, 0, time.UTC) }
	day := func(d int) time.Time { return time.Date(2025, time.January, d, 9, 0, 0, 0, time.UTC) }
	tests := []struct {
		t      time.Time
		format string
		want   string
	}{
		{wed, "d j D l S w z", "03 3 Wed Wednesday rd 3 246"},
		{wed, "W o", "36 2025"},
		{wed, "F E M b m n N t L", "September September Sep sep 09 9 Sept. 30 False"},
		{wed, "y Y", "25 2025"},
		{wed, "a A f g G h H i s u", "p.m. PM 3:30 3 15 03 15 30 07 000123"},
		{wed, "P", "3:30 p.m."},
		{wed, "e I O T Z", "CEST 0 +0200 CEST 7200"},
		{wed, "c", "2025-09-03T15:30:07.000123+02:00"},
		{wed.Truncate(time.Second), "c", "2025-09-03T15:30:07+02:00"},
		{wed, "r", "Wed, 03 Sep 2025 15:30:07 +0200"},
		{wed, "U", "1756906207"},
		{wed, "N j, Y, P", "Sept. 3, 2025, 3:30 p.m."},
		{wed, "Y-m-d H:i", "2025-09-03 15:30"},
		{wed, `\Y\e\a\r: Y, \\`, `Year: 2025, \`},
		{wed, "jS \\o\\f F", "3rd of September"},
		{wed, "", ""},
		{wed, "é → Y", "é → 2025"},
		// P and f: minutes left off when zero, midnight and noon by name.
		{at(0, 0), "P", "midnight"},
		{at(12, 0), "P", "noon"},
		{at(1, 0), "P", "1 a.m."},
		{at(0, 30), "P", "12:30 a.m."},
		{at(12, 30), "P", "12:30 p.m."},
		{at(23, 5), "P", "11:05 p.m."},
		{at(0, 0), "g h G H a A", "12 12 0 00 a.m. AM"},
		{at(12, 0), "g h a A", "12 12 p.m. PM"},
		// Ordinals.
		{day(1), "jS", "1st"}, {day(2), "jS", "2nd"}, {day(3), "jS", "3rd"}, {day(4), "jS", "4th"},
		{day(11), "jS", "11th"}, {day(12), "jS", "12th"}, {day(13), "jS", "13th"},
		{day(21), "jS", "21st"}, {day(22), "jS", "22nd"}, {day(23), "jS", "23rd"}, {day(31), "jS", "31st"},
		// Every month's AP name.
		{time.Date(2025, time.March, 1, 0, 0, 0, 0, time.UTC), "N", "March"},
		{time.Date(2025, time.June, 1, 0, 0, 0, 0, time.UTC), "N", "June"},
		{time.Date(2025, time.December, 1, 0, 0, 0, 0, time.UTC), "N b", "Dec. dec"},
		// Leap years, days in February, ISO week across the year boundary, padding.
		{time.Date(2024, time.February, 10, 0, 0, 0, 0, time.UTC), "L t", "True 29"},
		{time.Date(1900, time.February, 10, 0, 0, 0, 0, time.UTC), "L t", "False 28"},
		{time.Date(2021, time.January, 1, 0, 0, 0, 0, time.UTC), "W o Y z", "53 2020 2021 1"},
		{time.Date(999, time.January, 5, 0, 0, 0, 0, time.UTC), "Y y", "0999 99"},
	}
	for _, tt := range tests {
		got, err := date(tt.format, tt.t)
		if err != nil || got != tt.want {
			t.Errorf("date(%q, %v) = %q, %v; want %q", tt.format, tt.t, got, err, tt.want)
		}
	}
}

func TestDateValues(t *testing.T) {
	tm := time.Date(2025, time.September, 3, 9, 0, 0, 0, time.UTC)
	var nilTime *time.Time
	tests := []struct {
		args []any
		want string
	}{
		{[]any{tm}, "Sept. 3, 2025"}, // Django's default DATE_FORMAT
		{[]any{&tm}, "Sept. 3, 2025"},
		{[]any{"Y", &tm}, "2025"},
		{[]any{"Y", nil}, ""},
		{[]any{"Y", nilTime}, ""},
		{[]any{"Y", time.Time{}}, ""},
		{[]any{"Y", &time.Time{}}, ""},
	}
	for _, tt := range tests {
		got, err := date(tt.args...)
		if err != nil || got != tt.want {
			t.Errorf("date(%v) = %q, %v; want %q", tt.args, got, err, tt.want)
		}
	}
	if _, err := date("Y", "2025-09-03"); !errors.Is(err, errNotTime) {
		t.Errorf("date of a string: err = %v, want errNotTime", err)
	}
	for _, bad := range [][]any{{}, {1, tm}, {"Y", tm, tm}} {
		if _, err := date(bad...); err == nil {
			t.Errorf("date(%v) succeeded, want an error", bad)
		}
	}
}
