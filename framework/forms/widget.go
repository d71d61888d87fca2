package forms

import (
	"fmt"
	"html/template"
	"strings"
)

// Input renders field name's input element with its current value (see
// Value), HTML-escaped, with the constraints the browser can check too
// (required, maxlength, min, max), Django's widgets.
func (f *Form) Input(name string) template.HTML {
	fd := f.Field(name)
	if fd == nil {
		return ""
	}
	id, in := "id_"+esc(f.Prefix+name), esc(f.Prefix+name)
	val := f.Value(name)
	var attrs strings.Builder
	if fd.Required && fd.Kind != Bool {
		attrs.WriteString(" required")
	}
	if fd.MaxLength > 0 {
		fmt.Fprintf(&attrs, ` maxlength="%d"`, fd.MaxLength)
	}
	if fd.Kind == Int {
		if fd.Min != nil {
			fmt.Fprintf(&attrs, ` min="%d"`, *fd.Min)
		}
		if fd.Max != nil {
			fmt.Fprintf(&attrs, ` max="%d"`, *fd.Max)
		}
	}
	if len(f.errors[name]) > 0 {
		attrs.WriteString(` aria-invalid="true"`)
	}
	var b strings.Builder
	switch {
	case fd.Widget == "hidden":
		fmt.Fprintf(&b, `<input type="hidden" name="%s" id="%s" value="%s">`, in, id, esc(val))
	case fd.Kind == Bool:
		checked := ""
		if val != "" && val != "false" && val != "0" && val != "off" {
			checked = " checked"
		}
		fmt.Fprintf(&b, `<input type="checkbox" name="%s" id="%s"%s%s>`, in, id, checked, attrs.String())
	case fd.Kind == Choice && fd.Widget == "radio":
		b.WriteString(`<span class="radios">`)
		for i, o := range fd.Choices {
			checked := ""
			if o.Value == val {
				checked = " checked"
			}
			fmt.Fprintf(&b, `<label for="%s_%d"><input type="radio" name="%s" id="%s_%d" value="%s"%s%s> %s</label>`,
				id, i, in, id, i, esc(o.Value), checked, attrs.String(), esc(o.Label))
		}
		b.WriteString(`</span>`)
	case fd.Kind == Choice:
		fmt.Fprintf(&b, `<select name="%s" id="%s"%s>`, in, id, attrs.String())
		if !fd.Required {
			b.WriteString(`<option value="">---------</option>`)
		}
		for _, o := range fd.Choices {
			sel := ""
			if o.Value == val {
				sel = " selected"
			}
			fmt.Fprintf(&b, `<option value="%s"%s>%s</option>`, esc(o.Value), sel, esc(o.Label))
		}
		b.WriteString(`</select>`)
	case fd.Widget == "textarea":
		fmt.Fprintf(&b, `<textarea name="%s" id="%s" rows="4"%s>%s</textarea>`, in, id, attrs.String(), esc(val))
	default:
		typ := "text"
		switch {
		case fd.Widget == "password":
			typ, val = "password", "" // never sent back to the page
		case fd.Kind == Int:
			typ = "number"
		case fd.Kind == Email:
			typ = "email"
		case fd.Kind == DateTime:
			typ = "datetime-local"
			attrs.WriteString(` step="1"`)
		}
		fmt.Fprintf(&b, `<input type="%s" name="%s" id="%s" value="%s"%s>`, typ, in, id, esc(val), attrs.String())
	}
	return template.HTML(b.String())
}
