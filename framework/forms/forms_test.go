package forms

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	_ "modernc.org/sqlite"
)

// Each kind's valid and invalid inputs, with the cleaned value or the
// error shown.
func TestFieldKinds(t *testing.T) {
	utc := time.UTC
	tests := []struct {
		name    string
		field   Field
		input   []string // nil: the input is absent
		want    any
		wantErr string
	}{
		{"char", Field{Kind: Char}, []string{" hello "}, "hello", ""},
		{"char empty optional", Field{Kind: Char}, []string{""}, "", ""},
		{"char required", Field{Kind: Char, Required: true}, []string{"  "}, nil, "This field is required."},
		{"char absent required", Field{Kind: Char, Required: true}, nil, nil, "This field is required."},
		{"char max length", Field{Kind: Char, MaxLength: 3}, []string{"héllo"}, nil, "at most 3 characters (it has 5)"},
		{"char max length in runes", Field{Kind: Char, MaxLength: 5}, []string{"héllo"}, "héllo", ""},
		{"char min length", Field{Kind: Char, MinLength: 4}, []string{"abc"}, nil, "at least 4 characters"},
		{"char NUL", Field{Kind: Char}, []string{"a\x00b"}, nil, "Null characters"},
		{"int", Field{Kind: Int}, []string{"42"}, int64(42), ""},
		{"int negative", Field{Kind: Int}, []string{"-7"}, int64(-7), ""},
		{"int not a number", Field{Kind: Int}, []string{"4x"}, nil, "Enter a whole number."},
		{"int float", Field{Kind: Int}, []string{"1.5"}, nil, "Enter a whole number."},
		{"int overflow", Field{Kind: Int}, []string{"99999999999999999999"}, nil, "Enter a whole number."},
		{"int min", Field{Kind: Int, Min: Limit(0)}, []string{"-1"}, nil, "greater than or equal to 0"},
		{"int max", Field{Kind: Int, Max: Limit(10)}, []string{"11"}, nil, "less than or equal to 10"},
		{"int at bounds", Field{Kind: Int, Min: Limit(0), Max: Limit(10)}, []string{"10"}, int64(10), ""},
		{"int empty optional", Field{Kind: Int}, []string{""}, nil, ""},
		{"bool on", Field{Kind: Bool}, []string{"on"}, true, ""},
		{"bool absent", Field{Kind: Bool}, nil, false, ""},
		{"bool false", Field{Kind: Bool}, []string{"false"}, false, ""},
		{"bool required", Field{Kind: Bool, Required: true}, nil, nil, "This field is required."},
		{"choice", Field{Kind: Choice, Choices: []Option{{"a", "A"}, {"b", "B"}}}, []string{"b"}, "b", ""},
		{"choice invalid", Field{Kind: Choice, Choices: []Option{{"a", "A"}}}, []string{"z"}, nil, "Select a valid choice. z is not one of the available choices."},
		{"choice required", Field{Kind: Choice, Required: true, Choices: []Option{{"a", "A"}}}, nil, nil, "This field is required."},
		{"datetime local", Field{Kind: DateTime, Location: utc}, []string{"2026-11-29T22:40"}, time.Date(2026, 11, 29, 22, 40, 0, 0, utc), ""},
		{"datetime seconds", Field{Kind: DateTime, Location: utc}, []string{"2026-11-29 22:40:05"}, time.Date(2026, 11, 29, 22, 40, 5, 0, utc), ""},
		{"datetime date", Field{Kind: DateTime, Location: utc}, []string{"2026-11-29"}, time.Date(2026, 11, 29, 0, 0, 0, 0, utc), ""},
		{"datetime invalid", Field{Kind: DateTime}, []string{"yesterday"}, nil, "Enter a valid date/time."},
		{"datetime impossible", Field{Kind: DateTime}, []string{"2026-02-30T10:00"}, nil, "Enter a valid date/time."},
		{"datetime in year 0", Field{Kind: DateTime}, []string{"0000-01-01T00:00:00"}, nil, "Enter a valid date/time."},
		{"datetime in year 0, RFC 3339", Field{Kind: DateTime}, []string{"0000-06-01T00:00:00Z"}, nil, "Enter a valid date/time."},
		{"email", Field{Kind: Email}, []string{"ann@example.com"}, "ann@example.com", ""},
		{"email no domain dot", Field{Kind: Email}, []string{"ann@example"}, nil, "Enter a valid email address."},
		{"email no at", Field{Kind: Email}, []string{"ann.example.com"}, nil, "Enter a valid email address."},
		{"email with name", Field{Kind: Email}, []string{"Ann <ann@example.com>"}, nil, "Enter a valid email address."},
		{"email too long", Field{Kind: Email, MaxLength: 10}, []string{"ann@example.com"}, nil, "at most 10 characters"},
		{"field clean hook", Field{Kind: Char, Clean: func(v any) (any, error) {
			if v.(string) == "bad" {
				return nil, Invalid("Not %q.", "bad")
			}
			return strings.ToUpper(v.(string)), nil
		}}, []string{"ok"}, "OK", ""},
		{"field clean hook error", Field{Kind: Char, Clean: func(v any) (any, error) { return nil, Invalid("Not allowed.") }}, []string{"bad"}, nil, "Not allowed."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.field.Name = "x"
			data := url.Values{}
			if tt.input != nil {
				data["x"] = tt.input
			}
			f := New(tt.field).Bind(data)
			valid := f.IsValid()
			if tt.wantErr != "" {
				errs := f.Errors("x")
				if valid || len(errs) != 1 || !strings.Contains(errs[0], tt.wantErr) {
					t.Fatalf("valid %v, errors %q; want %q", valid, errs, tt.wantErr)
				}
				if f.Cleaned("x") != nil {
					t.Errorf("an invalid field has a cleaned value %v", f.Cleaned("x"))
				}
				return
			}
			if !valid {
				t.Fatalf("errors %q", f.Errors("x"))
			}
			got := f.Cleaned("x")
			if gt, ok := got.(time.Time); ok {
				if !gt.Equal(tt.want.(time.Time)) {
					t.Errorf("cleaned %v, want %v", got, tt.want)
				}
				return
			}
			if got != tt.want {
				t.Errorf("cleaned %#v, want %#v", got, tt.want)
			}
		})
	}
}

// The form-level Clean sees the cleaned values and can put errors on a
// field or on the form; a re-rendered form keeps the user's input and
// shows each error beside its field.
func TestFormCleanErrorsAndRerender(t *testing.T) {
	fields := []Field{
		{Name: "password1", Kind: Char, Required: true, Widget: "password"},
		{Name: "password2", Kind: Char, Required: true, Widget: "password"},
		{Name: "age", Kind: Int, Min: Limit(18), Label: "Your age"},
		{Name: "bio", Kind: Char, Widget: "textarea", MaxLength: 5},
	}
	f := New(fields...)
	f.Clean = func(f *Form) error {
		if f.CleanedString("password1") != f.CleanedString("password2") {
			f.AddError("password2", "The two password fields didn’t match.")
		}
		if f.CleanedInt("age") == 99 {
			return Invalid("Nobody is 99 <here>.")
		}
		return nil
	}
	f.Bind(url.Values{"password1": {"a"}, "password2": {"b"}, "age": {"17"}, "bio": {`<script>x</script>`}})
	if f.IsValid() {
		t.Fatal("valid")
	}
	if got := f.ErrorNames(); strings.Join(got, ",") != "password2,age,bio" {
		t.Errorf("errors on %v", got)
	}
	html := string(f.AsP())
	for _, want := range []string{
		`<p class="field field-age has-error"><label for="id_age">Your age</label> <input type="number" name="age" id="id_age" value="17" min="18" aria-invalid="true"><ul class="errorlist"><li>Ensure this value is greater than or equal to 18.</li></ul></p>`,
		`The two password fields didn’t match.`,
		`&lt;script&gt;x&lt;/script&gt;</textarea>`,
		`<input type="password" name="password1" id="id_password1" value="" required>`, // never echoed
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the rendered form lacks %s:\n%s", want, html)
		}
	}
	if strings.Contains(html, "<script>") {
		t.Error("input is not escaped")
	}
	f2 := New(fields...)
	f2.Clean = f.Clean
	f2.Bind(url.Values{"password1": {"a"}, "password2": {"a"}, "age": {"99"}})
	if f2.IsValid() || !strings.Contains(string(f2.AsP()), `<ul class="errorlist"><li>Nobody is 99 &lt;here&gt;.</li></ul>`) {
		t.Errorf("form error not shown first: %s", f2.AsP())
	}
	f3 := New(fields...).Bind(url.Values{"password1": {"a"}, "password2": {"a"}, "age": {"30"}, "bio": {"hi"}})
	f3.Clean = f.Clean
	if !f3.IsValid() || f3.CleanedInt("age") != 30 || f3.CleanedString("bio") != "hi" {
		t.Errorf("valid input: %v %v", f3.ErrorNames(), f3.cleaned)
	}
}

func TestUnboundFormShowsInitial(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := New(
		Field{Name: "question_text", Kind: Char, MaxLength: 200, Required: true},
		Field{Name: "pub_date", Kind: DateTime, Location: time.UTC},
		Field{Name: "kind", Kind: Choice, Choices: []Option{{"a", "Alpha"}, {"b", "Beta"}}},
		Field{Name: "active", Kind: Bool},
	).SetInitial(map[string]any{"question_text": `What's "new"?`, "pub_date": when, "kind": "b", "active": true})
	html := string(f.AsP())
	for _, want := range []string{
		`value="What&#39;s &#34;new&#34;?" required maxlength="200"`,
		`type="datetime-local" name="pub_date" id="id_pub_date" value="2026-01-02T03:04:05"`,
		`<option value="b" selected>Beta</option>`,
		`<input type="checkbox" name="active" id="id_active" checked>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("lacks %s:\n%s", want, html)
		}
	}
	if f.IsValid() || f.HasErrors() {
		t.Error("an unbound form is valid or has errors")
	}
}

func TestPrefix(t *testing.T) {
	f := New(Field{Name: "choice_text", Kind: Char, Required: true})
	f.Prefix = "choice_set-1-"
	f.Bind(url.Values{"choice_set-1-choice_text": {"Yes"}, "choice_text": {"wrong"}})
	if !f.IsValid() || f.CleanedString("choice_text") != "Yes" {
		t.Fatalf("prefixed value: %q %v", f.CleanedString("choice_text"), f.ErrorNames())
	}
	if !strings.Contains(string(f.Input("choice_text")), `name="choice_set-1-choice_text" id="id_choice_set-1-choice_text" value="Yes"`) {
		t.Errorf("input: %s", f.Input("choice_text"))
	}
}

func TestFromColumns(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE question (id INTEGER PRIMARY KEY, question_text VARCHAR(200) NOT NULL,
		pub_date DATETIME NOT NULL, votes INTEGER NOT NULL DEFAULT 0, note TEXT, active BOOLEAN NOT NULL DEFAULT 1)`); err != nil {
		t.Fatal(err)
	}
	cols, err := TableColumns(context.Background(), db, "question")
	if err != nil {
		t.Fatal(err)
	}
	fields := FromColumns(cols, "id")
	var got []string
	for _, f := range fields {
		got = append(got, f.Name+":"+f.Kind.String())
	}
	if strings.Join(got, " ") != "question_text:char pub_date:datetime votes:int note:char active:bool" {
		t.Fatalf("fields %v", got)
	}
	if fields[0].MaxLength != 200 && fields[0].MaxLength != 0 {
		t.Errorf("VARCHAR(200) max length %d", fields[0].MaxLength)
	}
	t.Logf("driver-reported: question_text required=%v max_length=%d; note required=%v", fields[0].Required, fields[0].MaxLength, fields[3].Required)
	if fields[3].Required {
		t.Error("a NULL column is required")
	}
	f := New(fields...).Bind(url.Values{"question_text": {"Q"}, "pub_date": {"2026-01-01T00:00"}, "votes": {"x"}})
	if f.IsValid() || len(f.Errors("votes")) != 1 {
		t.Errorf("a form from the columns does not check an INTEGER: %v", f.ErrorNames())
	}
}

// TestInvalidUTF8IsReplaced: bytes that are not UTF-8 were kept as sent,
// stored, and written back into pages; Django decodes form data with
// errors="replace", so they become U+FFFD.
func TestInvalidUTF8IsReplaced(t *testing.T) {
	f := New(Field{Name: "text", Kind: Char, MaxLength: 10}, Field{Name: "pick", Kind: Choice, Choices: []Option{{"\uFFFD", "?"}}}).
		Bind(map[string][]string{"text": {"a\xff\xfeb"}, "pick": {"\xff"}})
	if !f.IsValid() {
		t.Fatalf("errors: %v", f.ErrorNames())
	}
	if got := f.CleanedString("text"); got != "a\uFFFDb" {
		t.Errorf("cleaned %q, want the invalid bytes replaced by U+FFFD", got)
	}
	if in := string(f.Input("text")); !utf8.ValidString(in) {
		t.Errorf("the re-rendered input is not UTF-8: %q", in)
	}
}
