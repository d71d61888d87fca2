// Package forms is Django's django.forms for the framework: typed fields
// (char, int, bool, choice, datetime, email) with required, length and
// range checks, a Clean hook per field and per form, errors kept beside
// the field they belong to, re-rendering with the user's input, and a
// form built from a database/sql table's columns (for the admin).
//
// A Form is built per request from its fields (they are plain values, so
// a package-level []Field is the form's class), bound to the POST data,
// validated with IsValid, and read with the Cleaned* methods:
//
//	var contact = []forms.Field{
//		{Name: "email", Kind: forms.Email, Required: true},
//		{Name: "age", Kind: forms.Int, Min: forms.Limit(18)},
//	}
//	f := forms.New(contact...).Bind(r.PostForm)
//	if !f.IsValid() {
//		return r.Render(w, "contact.html", framework.Context{"form": f}) // errors and input kept
//	}
//	save(f.CleanedString("email"), f.CleanedInt("age"))
package forms

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is a field's type: what its cleaned value is.
type Kind uint8

const (
	Char     Kind = iota // string (TextInput; Textarea with Widget "textarea")
	Int                  // int64
	Bool                 // bool (a checkbox: absent is false)
	Choice               // string, one of Choices
	DateTime             // time.Time, from "2006-01-02T15:04" (datetime-local), with seconds, or a date
	Email                // string, an address Django's EmailValidator takes (ValidEmail)
)

func (k Kind) String() string {
	switch k {
	case Char:
		return "char"
	case Int:
		return "int"
	case Bool:
		return "bool"
	case Choice:
		return "choice"
	case DateTime:
		return "datetime"
	case Email:
		return "email"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Option is one entry of a Choice field: the value sent and its label.
type Option struct {
	Value string
	Label string
}

// Field declares one form field, Django's forms.Field subclasses in one
// struct: Kind says which.
type Field struct {
	Name      string // the input's name and the key of the cleaned value
	Label     string // shown beside the input; "" means Name with "_" as spaces, capitalised
	Kind      Kind
	Required  bool
	MaxLength int    // Char, Email: at most this many characters (0: no limit)
	MinLength int    // Char: at least this many characters
	Min, Max  *int64 // Int: bounds (see Limit)
	Choices   []Option
	HelpText  string
	Widget    string // "" (the kind's input), "textarea", "password", "hidden", "radio", "select"
	Initial   any    // shown on an unbound form
	Location  *time.Location
	// ErrorMessages replace Django's default messages by Django's keys:
	// "required", "invalid" (int, datetime, email), "invalid_choice" (its
	// %s is the value sent), as Django's error_messages.
	ErrorMessages map[string]string
	// Clean, if set, runs after the kind's checks on the cleaned value, as
	// Django's clean_<field>: it returns the value to keep or an error
	// shown beside the field.
	Clean func(v any) (any, error)
}

// Limit returns a pointer to n, for Field.Min and Field.Max.
func Limit(n int64) *int64 { return &n }

// ValidationError is a message for the user about their input.
type ValidationError struct{ Message string }

func (e *ValidationError) Error() string { return e.Message }

// Invalid returns a ValidationError, for Clean hooks.
func Invalid(format string, args ...any) error {
	return &ValidationError{Message: fmt.Sprintf(format, args...)}
}

// The messages are Django's.
const (
	msgRequired = "This field is required."
	msgInt      = "Enter a whole number."
	msgChoice   = "Select a valid choice. %s is not one of the available choices."
	msgDateTime = "Enter a valid date/time."
	msgEmail    = "Enter a valid email address."
)

// DateTimeLayouts are the input formats a DateTime field accepts, in order
// (Django's DATETIME_INPUT_FORMATS, with the HTML datetime-local forms first).
var DateTimeLayouts = []string{
	"2006-01-02T15:04",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
	time.RFC3339,
}

// clean converts and checks one raw input value (raw is "" when absent).
func (f *Field) clean(raw string, present bool) (any, error) {
	if f.Kind != Char || f.Widget != "password" {
		raw = strings.TrimSpace(raw) // Django's strip=True
	}
	if f.Kind == Bool {
		v := present && raw != "" && raw != "false" && raw != "0" && raw != "off"
		if f.Required && !v {
			return nil, f.err("required", msgRequired)
		}
		return f.hook(v)
	}
	if raw == "" {
		if f.Required {
			return nil, f.err("required", msgRequired)
		}
		return f.hook(f.empty())
	}
	var v any
	switch f.Kind {
	case Char, Email:
		if n := utf8.RuneCountInString(raw); f.MaxLength > 0 && n > f.MaxLength {
			return nil, Invalid("Ensure this value has at most %d characters (it has %d).", f.MaxLength, n)
		} else if n < f.MinLength {
			return nil, Invalid("Ensure this value has at least %d characters (it has %d).", f.MinLength, n)
		}
		if strings.ContainsRune(raw, 0) {
			return nil, Invalid("Null characters are not allowed.")
		}
		if f.Kind == Email && !ValidEmail(raw) {
			return nil, f.err("invalid", msgEmail)
		}
		v = raw
	case Int:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return nil, f.err("invalid", msgInt)
		}
		if f.Min != nil && n < *f.Min {
			return nil, Invalid("Ensure this value is greater than or equal to %d.", *f.Min)
		}
		if f.Max != nil && n > *f.Max {
			return nil, Invalid("Ensure this value is less than or equal to %d.", *f.Max)
		}
		v = n
	case Choice:
		ok := false
		for _, o := range f.Choices {
			if o.Value == raw {
				ok = true
				break
			}
		}
		if !ok {
			return nil, f.err("invalid_choice", msgChoice, raw)
		}
		v = raw
	case DateTime:
		loc := f.Location
		if loc == nil {
			loc = time.Local
		}
		var t time.Time
		err := errors.New("no layout")
		for _, layout := range DateTimeLayouts {
			if t, err = time.ParseInLocation(layout, raw, loc); err == nil {
				break
			}
		}
		// Year 0 parses, but Django's (Python's) dates start at year 1,
		// and PostgreSQL's timestamps have no year 0: a database of them
		// failed to store it (break-it 15).
		if err != nil || t.Year() < 1 {
			return nil, f.err("invalid", msgDateTime)
		}
		v = t
	default:
		return nil, fmt.Errorf("forms: field %s has unknown kind %d", f.Name, f.Kind)
	}
	return f.hook(v)
}

// err returns the message for key: the field's own, or def, formatted.
func (f *Field) err(key, def string, args ...any) error {
	if m, ok := f.ErrorMessages[key]; ok {
		def = m
	}
	if len(args) > 0 && strings.Contains(def, "%") {
		return Invalid(def, args...)
	}
	return &ValidationError{Message: def}
}

// empty is the cleaned value of an optional field left empty.
func (f *Field) empty() any {
	switch f.Kind {
	case Int:
		return nil // NULL, as Django's IntegerField(required=False)
	case DateTime:
		return nil
	}
	return ""
}

func (f *Field) hook(v any) (any, error) {
	if f.Clean == nil {
		return v, nil
	}
	return f.Clean(v)
}

// DisplayLabel is Label or the name made readable: "question_text" →
// "Question text".
func (f *Field) DisplayLabel() string { return f.label() }

// label is Label or the name made readable: "question_text" → "Question text".
func (f *Field) label() string {
	if f.Label != "" {
		return f.Label
	}
	s := strings.ReplaceAll(f.Name, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// format shows a value (cleaned or initial) as an input's text.
func (f *Field) format(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		if x.IsZero() {
			return ""
		}
		if f.Location != nil {
			x = x.In(f.Location)
		}
		return x.Format("2006-01-02T15:04:05")
	case bool:
		if x {
			return "on"
		}
		return ""
	}
	return fmt.Sprint(v)
}
