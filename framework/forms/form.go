package forms

import (
	"errors"
	"fmt"
	"html/template"
	"strings"
	"time"
)

// NonFieldErrors is the key of errors that belong to the whole form,
// Django's NON_FIELD_ERRORS.
const NonFieldErrors = "__all__"

// Form is one use of a list of fields: unbound (showing initial values)
// or bound to submitted data, then validated. It is not safe for
// concurrent use; build one per request.
type Form struct {
	Fields []*Field
	// Prefix is prepended to every input name ("choice_set-0-" in a
	// formset), as Django's prefix.
	Prefix string
	// Clean, if set, runs after every field is clean, Django's
	// Form.clean(): it may read Cleaned, call AddError, or return an error
	// shown above the form.
	Clean func(f *Form) error

	data    map[string][]string
	bound   bool
	checked bool
	cleaned map[string]any
	errors  map[string][]string
	initial map[string]any
}

// New returns an unbound form of the given fields (copied, so that a
// package-level list can be shared by every request).
func New(fields ...Field) *Form {
	f := &Form{Fields: make([]*Field, len(fields))}
	for i := range fields {
		fd := fields[i]
		f.Fields[i] = &fd
	}
	return f
}

// Bind makes the form hold submitted data (request.POST: a
// framework.Values or a url.Values); IsValid then validates it. A field
// sent more than once counts by its last value, as Django's widgets read
// QueryDict.get. It returns f.
func (f *Form) Bind(data map[string][]string) *Form {
	f.data, f.bound, f.checked = data, true, false
	return f
}

// SetInitial sets the values an unbound form shows (an object's current
// values on an edit page), by field name.
func (f *Form) SetInitial(values map[string]any) *Form {
	f.initial = values
	return f
}

// IsBound reports whether the form holds submitted data.
func (f *Form) IsBound() bool { return f.bound }

// Field returns the field called name, or nil.
func (f *Form) Field(name string) *Field {
	for _, fd := range f.Fields {
		if fd.Name == name {
			return fd
		}
	}
	return nil
}

// IsValid validates a bound form (once) and reports whether it had no
// errors. An unbound form is never valid.
func (f *Form) IsValid() bool {
	if !f.bound {
		return false
	}
	if !f.checked {
		f.checked = true
		f.cleaned = make(map[string]any, len(f.Fields))
		f.errors = nil
		for _, fd := range f.Fields {
			vs, present := f.data[f.Prefix+fd.Name]
			raw := validText(last(vs))
			v, err := fd.clean(raw, present)
			if err != nil {
				f.addErr(fd.Name, err)
				continue
			}
			f.cleaned[fd.Name] = v
		}
		if f.Clean != nil {
			if err := f.Clean(f); err != nil {
				f.addErr(NonFieldErrors, err)
			}
		}
	}
	return len(f.errors) == 0
}

func (f *Form) addErr(name string, err error) {
	var ve *ValidationError
	msg := err.Error()
	if !errors.As(err, &ve) {
		msg = "Invalid value." // an internal error's text is for the log, not the page
	}
	f.AddError(name, msg)
}

// AddError records msg against field name (NonFieldErrors for the whole
// form) and removes its cleaned value, as Django's add_error.
func (f *Form) AddError(name, msg string) {
	if f.errors == nil {
		f.errors = map[string][]string{}
	}
	f.errors[name] = append(f.errors[name], msg)
	delete(f.cleaned, name)
}

// Errors returns the messages of field name (NonFieldErrors for the form's).
func (f *Form) Errors(name string) []string { return f.errors[name] }

// HasErrors reports whether validation found any problem.
func (f *Form) HasErrors() bool { return len(f.errors) > 0 }

// ErrorNames lists the fields with errors, in field order (the form's own last).
func (f *Form) ErrorNames() []string {
	var out []string
	for _, fd := range f.Fields {
		if len(f.errors[fd.Name]) > 0 {
			out = append(out, fd.Name)
		}
	}
	if len(f.errors[NonFieldErrors]) > 0 {
		out = append(out, NonFieldErrors)
	}
	return out
}

// Cleaned returns the cleaned value of field name (see Kind), nil if it
// was invalid or absent.
func (f *Form) Cleaned(name string) any { return f.cleaned[name] }

// CleanedString returns a Char, Choice or Email field's value.
func (f *Form) CleanedString(name string) string {
	s, _ := f.cleaned[name].(string)
	return s
}

// CleanedInt returns an Int field's value (0 when empty).
func (f *Form) CleanedInt(name string) int64 {
	n, _ := f.cleaned[name].(int64)
	return n
}

// CleanedBool returns a Bool field's value.
func (f *Form) CleanedBool(name string) bool {
	b, _ := f.cleaned[name].(bool)
	return b
}

// CleanedTime returns a DateTime field's value.
func (f *Form) CleanedTime(name string) time.Time {
	t, _ := f.cleaned[name].(time.Time)
	return t
}

// Value returns what the input of field name shows: the submitted text on
// a bound form (so a re-rendered form keeps the user's input, valid or
// not), else the initial value.
func (f *Form) Value(name string) string {
	fd := f.Field(name)
	if fd == nil {
		return ""
	}
	if f.bound {
		return validText(last(f.data[f.Prefix+name]))
	}
	if v, ok := f.initial[name]; ok {
		return fd.format(v)
	}
	return fd.format(fd.Initial)
}

// last is the value of a field sent as vs: the last one, as Django's
// QueryDict.get; "" for none.
func last(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// validText is a submitted value as text: bytes that are not UTF-8 (a
// run of them) become U+FFFD, as Django's decoding of form data with
// errors="replace" does, so that they are neither stored nor echoed.
func validText(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// InputName is field name's input name, with the prefix.
func (f *Form) InputName(name string) string { return f.Prefix + name }

// AsP renders every field as Django's form.as_p: a paragraph per field
// with its label, input, help text and errors beside it, and the form's
// own errors first. The page supplies the <form> tag, csrf_field and the
// submit button.
func (f *Form) AsP() template.HTML {
	var b strings.Builder
	f.IsValid() // a bound form shows its errors
	if errs := f.errors[NonFieldErrors]; len(errs) > 0 {
		writeErrors(&b, errs)
	}
	for _, fd := range f.Fields {
		b.WriteString(string(f.Row(fd.Name)))
	}
	return template.HTML(b.String())
}

// Row renders one field: label, input, help text and its errors.
func (f *Form) Row(name string) template.HTML {
	fd := f.Field(name)
	if fd == nil {
		return ""
	}
	f.IsValid()
	if fd.Widget == "hidden" {
		return f.Input(name)
	}
	var b strings.Builder
	errs := f.errors[name]
	cls := "field field-" + name
	if len(errs) > 0 {
		cls += " has-error"
	}
	fmt.Fprintf(&b, `<p class="%s">`, cls)
	if fd.Kind == Bool {
		fmt.Fprintf(&b, `%s <label for="id_%s">%s</label>`, f.Input(name), esc(f.Prefix+name), esc(fd.label()))
	} else {
		fmt.Fprintf(&b, `<label for="id_%s">%s%s</label> %s`, esc(f.Prefix+name), esc(fd.label()), requiredMark(fd), f.Input(name))
	}
	if fd.HelpText != "" {
		fmt.Fprintf(&b, ` <span class="helptext">%s</span>`, esc(fd.HelpText))
	}
	writeErrors(&b, errs)
	b.WriteString("</p>\n")
	return template.HTML(b.String())
}

func requiredMark(fd *Field) string {
	if fd.Required {
		return `<span class="required" aria-hidden="true">*</span>`
	}
	return ""
}

func writeErrors(b *strings.Builder, errs []string) {
	if len(errs) == 0 {
		return
	}
	b.WriteString(`<ul class="errorlist">`)
	for _, e := range errs {
		fmt.Fprintf(b, "<li>%s</li>", esc(e))
	}
	b.WriteString("</ul>")
}

var esc = template.HTMLEscapeString
