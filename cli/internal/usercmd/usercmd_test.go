package usercmd

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	_ "modernc.org/sqlite"

	"github.com/stack-web/stack/framework/auth"
)

// users runs a user command with the accounts in dir/users.db (a cheap
// hasher) and stdin, and returns its exit status (1 on an error, which is
// appended to stderr as stack prints it) and outputs.
func users(t *testing.T, dir, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Open: func() (Accounts, io.Closer, error) {
		db, err := sql.Open("sqlite", filepath.Join(dir, "users.db"))
		if err != nil {
			return nil, nil, err
		}
		users, err := auth.New(db, auth.Options{Hasher: &auth.Hasher{Time: 1, Memory: 1024, Threads: 1}})
		if err != nil {
			db.Close()
			return nil, nil, err
		}
		return users, db, nil
	}}
	root := &cobra.Command{Use: "stack", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(CreatesuperuserCommand(e), ChangepasswordCommand(e))
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(&errb, "stack:", err)
		return 1, out.String(), errb.String()
	}
	return 0, out.String(), errb.String()
}

// login checks a password against the accounts in dir.
func login(t *testing.T, dir, username, password string) error {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := auth.New(db, auth.Options{Hasher: &auth.Hasher{Time: 1, Memory: 1024, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	u, err := a.Authenticate(context.Background(), username, password, "127.0.0.1")
	if err == nil && !(u.IsSuperuser && u.IsStaff) {
		t.Errorf("%s is not a staff superuser", username)
	}
	return err
}

func TestCreatesuperuserNoinput(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("STACK_SUPERUSER_PASSWORD", "admin-password-1")
	t.Setenv("STACK_SUPERUSER_EMAIL", "admin@example.com")
	code, out, errs := users(t, dir, "", "createsuperuser", "--username", "admin", "--noinput")
	if code != 0 || !strings.Contains(out, "Superuser created successfully.") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if err := login(t, dir, "admin", "admin-password-1"); err != nil {
		t.Errorf("the superuser cannot log in: %v", err)
	}
	if code, _, errs := users(t, dir, "", "createsuperuser", "--username", "admin", "--noinput"); code != 1 || !strings.Contains(errs, "already taken") {
		t.Errorf("a second admin: exit %d %s", code, errs)
	}
	if code, _, errs := users(t, dir, "", "createsuperuser", "--noinput"); code != 1 || !strings.Contains(errs, "--username is required") {
		t.Errorf("no username: exit %d %s", code, errs)
	}
}

// Interactive, from a pipe: a mismatch, a weak password refused, then a
// good one; changepassword the same way.
func TestCreatesuperuserAndChangepasswordInteractive(t *testing.T) {
	dir := t.TempDir()
	in := "ann\nann@example.com\none-password\nother-password\n123\n123\nn\nann-password-1\nann-password-1\n"
	code, out, errs := users(t, dir, in, "createsuperuser")
	if code != 0 || !strings.Contains(out, "Superuser created successfully.") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"Username (leave blank", "Email address: ", "Your passwords didn't match.", "This password is too short.", "entirely numeric", "Bypass password validation"} {
		if !strings.Contains(errs, want) {
			t.Errorf("the prompts lack %q:\n%s", want, errs)
		}
	}
	if err := login(t, dir, "ann", "ann-password-1"); err != nil {
		t.Fatalf("login: %v", err)
	}
	code, out, errs = users(t, dir, "new-password-2\nnew-password-2\n", "changepassword", "ann")
	if code != 0 || !strings.Contains(out, "Password changed successfully for user 'ann'") {
		t.Fatalf("changepassword: exit %d\n%s%s", code, out, errs)
	}
	if err := login(t, dir, "ann", "new-password-2"); err != nil {
		t.Errorf("the new password: %v", err)
	}
	if err := login(t, dir, "ann", "ann-password-1"); err == nil {
		t.Error("the old password still works")
	}
}

// changepassword of a user who does not exist says so before any prompt,
// as Django's does: it asked for the password twice (and validated it)
// first, and only then said "no such user".
func TestChangepasswordOfNobodyAsksNothing(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("STACK_SUPERUSER_PASSWORD", "ann-password-1")
	if code, out, errs := users(t, dir, "", "createsuperuser", "--username", "ann", "--noinput"); code != 0 {
		t.Fatalf("createsuperuser: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs := users(t, dir, "x-password-3\nx-password-3\n", "changepassword", "nobody")
	if code != 1 || !strings.Contains(errs, "changepassword: user 'nobody' does not exist") {
		t.Errorf("changepassword of nobody: exit %d, want 1 and user 'nobody' does not exist:\n%s%s", code, out, errs)
	}
	if strings.Contains(errs, "Password") || strings.Contains(errs, "Changing password") {
		t.Errorf("changepassword of nobody prompted before saying there is no such user:\n%s", errs)
	}
}

// The default username is Django's getpass.getuser(): the login
// variables first, so that the command run again as the workers' user
// (cli, with appserver.user) offers the name of who typed it, not theirs.
func TestCreatesuperuserOffersTheLoginName(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LOGNAME", "")
	t.Setenv("USER", "typist")
	code, out, errs := users(t, dir, "\n\ntypist-password-1\ntypist-password-1\n", "createsuperuser")
	if code != 0 || !strings.Contains(errs, "Username (leave blank to use 'typist'): ") {
		t.Fatalf("exit %d, want the default 'typist'\n%s%s", code, out, errs)
	}
	if err := login(t, dir, "typist", "typist-password-1"); err != nil {
		t.Errorf("typist cannot log in: %v", err)
	}
}

// createsuperuser says at once that a username is taken or malformed and
// asks for it again, as Django's does, and offers no default that is
// taken: it asked for the email and the password twice first, then ended
// with "already taken" (break-it 15).
func TestCreatesuperuserAsksAgainForATakenOrBadUsername(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("STACK_SUPERUSER_PASSWORD", "ann-password-1")
	if code, out, errs := users(t, dir, "", "createsuperuser", "--username", "ann", "--noinput"); code != 0 {
		t.Fatalf("createsuperuser ann: exit %d\n%s%s", code, out, errs)
	}
	t.Setenv("LOGNAME", "")
	t.Setenv("USER", "ann")
	in := "ann\nbad name\nbob\nbob@example.com\nbob-password-1\nbob-password-1\n"
	code, out, errs := users(t, dir, in, "createsuperuser")
	if code != 0 || !strings.Contains(out, "Superuser created successfully.") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if strings.Contains(errs, "leave blank to use 'ann'") {
		t.Errorf("offered the taken name ann as the default:\n%s", errs)
	}
	for _, want := range []string{"Error: That username is already taken.", "Error: auth: a username is 1 to 150"} {
		if !strings.Contains(errs, want) {
			t.Errorf("the dialogue lacks %q:\n%s", want, errs)
		}
	}
	if err := login(t, dir, "bob", "bob-password-1"); err != nil {
		t.Errorf("bob cannot log in: %v", err)
	}
	// --username taken: said, then asked.
	code, out, errs = users(t, dir, "cy\n\ncy-password-1\ncy-password-1\n", "createsuperuser", "--username", "bob")
	if code != 0 || !strings.Contains(errs, "Error: That username is already taken.") {
		t.Fatalf("--username bob: exit %d\n%s%s", code, out, errs)
	}
	if err := login(t, dir, "cy", "cy-password-1"); err != nil {
		t.Errorf("cy cannot log in: %v", err)
	}
}

// changepassword asks again for a password that fails validation, as
// Django's: it offered to "create user anyway", createsuperuser's bypass,
// so the next password typed was read as the answer to it (break-it 15).
func TestChangepasswordOffersNoBypass(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("STACK_SUPERUSER_PASSWORD", "ann-password-1")
	if code, out, errs := users(t, dir, "", "createsuperuser", "--username", "ann", "--noinput"); code != 0 {
		t.Fatalf("createsuperuser: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs := users(t, dir, "123\n123\nann-password-2\nann-password-2\n", "changepassword", "ann")
	if code != 0 || strings.Contains(errs, "Bypass") || !strings.Contains(errs, "This password is too short.") {
		t.Fatalf("exit %d, want 0, the validation error and no bypass offer:\n%s%s", code, out, errs)
	}
	if err := login(t, dir, "ann", "ann-password-2"); err != nil {
		t.Errorf("the new password: %v", err)
	}
}

// changepassword without a username changes the login name's, as
// Django's; it refused ("accepts 1 arg(s), received 0") (break-it 15).
func TestChangepasswordOfTheLoginName(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("STACK_SUPERUSER_PASSWORD", "ann-password-1")
	if code, out, errs := users(t, dir, "", "createsuperuser", "--username", "ann", "--noinput"); code != 0 {
		t.Fatalf("createsuperuser: exit %d\n%s%s", code, out, errs)
	}
	t.Setenv("LOGNAME", "ann")
	code, out, errs := users(t, dir, "ann-password-2\nann-password-2\n", "changepassword")
	if code != 0 || !strings.Contains(out, "Password changed successfully for user 'ann'") {
		t.Fatalf("changepassword: exit %d\n%s%s", code, out, errs)
	}
	if err := login(t, dir, "ann", "ann-password-2"); err != nil {
		t.Errorf("the new password: %v", err)
	}
}

// createsuperuser validates the email address as Django's (EmailValidator):
// asked, a malformed one is said and asked again; given by --email or
// STACK_SUPERUSER_EMAIL, it is refused before anything is created. It
// stored whatever was typed.
func TestCreatesuperuserValidatesTheEmail(t *testing.T) {
	dir := t.TempDir()
	in := "ann\nnot an address\nann@example.c\nann@example.com\nann-password-1\nann-password-1\n"
	code, out, errs := users(t, dir, in, "createsuperuser")
	if code != 0 || !strings.Contains(out, "Superuser created successfully.") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if n := strings.Count(errs, "Error: Enter a valid email address."); n != 2 {
		t.Errorf("want the error twice, then the address taken:\n%s", errs)
	}
	if n := strings.Count(errs, "Email address: "); n != 3 {
		t.Errorf("asked for the email %d times, want 3:\n%s", n, errs)
	}
	// A blank answer is no address, as Django's blank=True email.
	if code, out, errs := users(t, dir, "bob\n\nbob-password-1\nbob-password-1\n", "createsuperuser"); code != 0 {
		t.Errorf("blank email: exit %d\n%s%s", code, out, errs)
	}
	t.Setenv("STACK_SUPERUSER_PASSWORD", "cy-password-1")
	for _, args := range [][]string{
		{"createsuperuser", "--username", "cy", "--noinput", "--email", "cy@"},
		{"createsuperuser", "--username", "cy", "--email", "cy at example.com"},
	} {
		code, out, errs := users(t, dir, "cy-password-1\ncy-password-1\n", args...)
		if code != 1 || !strings.Contains(errs, "createsuperuser: Enter a valid email address.") || strings.Contains(errs, "Password") {
			t.Errorf("%q: exit %d, want 1 and the error before any prompt\n%s%s", args, code, out, errs)
		}
	}
	t.Setenv("STACK_SUPERUSER_EMAIL", "cy@@example.com")
	if code, _, errs := users(t, dir, "", "createsuperuser", "--username", "cy", "--noinput"); code != 1 || !strings.Contains(errs, "Enter a valid email address.") {
		t.Errorf("STACK_SUPERUSER_EMAIL malformed: exit %d\n%s", code, errs)
	}
	if err := login(t, dir, "cy", "cy-password-1"); err == nil {
		t.Error("cy was created with a malformed email")
	}
}
