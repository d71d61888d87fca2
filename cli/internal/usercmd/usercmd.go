// Package usercmd is Django's user-management commands, `stack
// createsuperuser` and `stack changepassword`: a dialogue on the terminal
// (the password asked twice, not echoed) or answers read line by line from
// a pipe, with the app's password validation and Django's offer to bypass
// it. It stands alone because it is a terminal dialogue over an app's
// accounts and knows nothing of the tiers or the configuration: cli hands
// it the way to open the served app's accounts.
package usercmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Accounts is what the commands need of an app's user accounts (cli.Users
// is the same interface).
type Accounts interface {
	CreateSuperuser(ctx context.Context, username, email, password string) error
	SetPassword(ctx context.Context, username, password string) error
	HasUser(ctx context.Context, username string) (bool, error)
	ValidatePassword(password, username string) error
}

// Env is what the commands read, write and open.
type Env struct {
	Stdin          io.Reader // the answers: a terminal or a pipe
	Stdout, Stderr io.Writer // the result; the questions and errors
	// Open opens the served app's accounts; the io.Closer releases them.
	Open func() (Accounts, io.Closer, error)
}

// prompter asks questions on the terminal, or reads answers line by line
// from a pipe.
type prompter struct {
	in  *bufio.Reader
	fd  int // the terminal's descriptor, or -1
	out io.Writer
}

func (e *Env) prompter() *prompter {
	p := &prompter{in: bufio.NewReader(e.Stdin), fd: -1, out: e.Stderr}
	if f, ok := e.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.fd = int(f.Fd())
	}
	return p
}

func (p *prompter) ask(q string) (string, error) {
	fmt.Fprint(p.out, q)
	line, err := p.in.ReadString('\n')
	if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
		return "", fmt.Errorf("reading the answer: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// errCancelled is a ^C (or another of CancelSignals) at the password
// prompt.
var errCancelled = errors.New("operation cancelled")

// CancelSignals are the signals that cancel a dialogue at its password
// prompt: ^C (SIGINT), ^\ (SIGQUIT), SIGTERM and SIGHUP (`kill -HUP`, the
// terminal's window closed). Go's default for each ends the process,
// which in term.ReadPassword leaves the terminal without echo. cli's
// parent of a dialogue run as the workers' user catches them too: its
// death would SIGKILL the child at its prompt.
func CancelSignals() []os.Signal {
	return []os.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGHUP}
}

// secret reads a password without echo on a terminal. A ^C there (or
// another of CancelSignals) cancels the command with the echo back on:
// Go's default would end the process with the terminal left silent
// (term.ReadPassword restores it only when the read returns), and
// `stack` run as the workers' user (cli) would die likewise of its
// parent's SIGTERM. The signal stays caught after a cancel, so that a
// second one (the terminal's ^C and the parent's SIGTERM come together)
// lets the command end as it says, not by the signal.
func (p *prompter) secret(q string) (string, error) {
	if p.fd < 0 {
		return p.ask(q)
	}
	state, err := term.GetState(p.fd)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, CancelSignals()...)
	type read struct {
		b   []byte
		err error
	}
	done := make(chan read, 1)
	fmt.Fprint(p.out, q)
	go func() {
		b, err := term.ReadPassword(p.fd)
		done <- read{b, err}
	}()
	select {
	case r := <-done:
		signal.Stop(sigs)
		fmt.Fprintln(p.out)
		if r.err != nil {
			return "", fmt.Errorf("reading the password: %w", r.err)
		}
		return string(r.b), nil
	case <-sigs:
		term.Restore(p.fd, state) // the read goes on blocked: the command ends
		fmt.Fprintln(p.out)
		return "", errCancelled
	}
}

// usernameChecker is Accounts that can vet a username's form before the
// password is asked (framework/auth's can); an app's own Accounts may not.
type usernameChecker interface {
	ValidateUsername(username string) error
}

// username asks for a new user's name until it is one the accounts would
// take, as Django's createsuperuser: a malformed or taken name is said
// ("Error: ...") and asked again at once, not after the email and the
// password twice. first is --username ("" for none); def, the login name,
// is offered unless it is taken. A pipe that ends gives up.
func (p *prompter) username(ctx context.Context, users Accounts, first string) (string, error) {
	def := systemUsername()
	if def != "" {
		if taken, err := users.HasUser(ctx, def); err != nil || taken {
			def = "" // Django offers no default that is taken
		}
	}
	name, asked := first, first == ""
	for {
		if asked {
			q := "Username: "
			if def != "" {
				q = fmt.Sprintf("Username (leave blank to use '%s'): ", def)
			}
			var err error
			if name, err = p.ask(q); err != nil {
				return "", err
			}
			if name == "" {
				name = def
			}
		}
		asked = true
		if name == "" {
			fmt.Fprintln(p.out, "Error: This field cannot be blank.")
			continue
		}
		if v, ok := users.(usernameChecker); ok {
			if err := v.ValidateUsername(name); err != nil {
				fmt.Fprintf(p.out, "Error: %v\n", err)
				continue
			}
		}
		taken, err := users.HasUser(ctx, name)
		if err != nil {
			return "", err
		}
		if taken {
			fmt.Fprintln(p.out, "Error: That username is already taken.")
			continue
		}
		return name, nil
	}
}

// emailChecker is Accounts that can vet an email address
// (framework/auth's can); an app's own Accounts may not.
type emailChecker interface {
	ValidateEmail(email string) error
}

// checkEmail is users' verdict on email, nil when it has none to give.
func checkEmail(users Accounts, email string) error {
	if v, ok := users.(emailChecker); ok {
		return v.ValidateEmail(email)
	}
	return nil
}

// email asks for the new user's email address until it is a valid one or
// blank (no address), as Django's createsuperuser: a malformed one is said
// ("Error: Enter a valid email address.") and asked again. A pipe that
// ends gives up.
func (p *prompter) email(users Accounts) (string, error) {
	for {
		email, err := p.ask("Email address: ")
		if err != nil {
			return "", err
		}
		if err := checkEmail(users, email); err != nil {
			fmt.Fprintf(p.out, "Error: %v\n", err)
			continue
		}
		return email, nil
	}
}

// newPassword asks for a password twice and validates it; with bypass
// (createsuperuser) it offers to bypass the validation, as Django does,
// and without (changepassword, which Django's does not offer it) asks
// again. "" means give up.
func (p *prompter) newPassword(users Accounts, username string, bypass bool) (string, error) {
	for range 3 {
		pw, err := p.secret("Password: ")
		if err != nil {
			return "", err
		}
		again, err := p.secret("Password (again): ")
		if err != nil {
			return "", err
		}
		if pw != again {
			fmt.Fprintln(p.out, "Error: Your passwords didn't match.")
			continue
		}
		if strings.TrimSpace(pw) == "" {
			fmt.Fprintln(p.out, "Error: Blank passwords aren't allowed.")
			continue
		}
		if err := users.ValidatePassword(pw, username); err != nil {
			fmt.Fprintln(p.out, err)
			if !bypass {
				continue
			}
			yes, err := p.ask("Bypass password validation and create user anyway? [y/N]: ")
			if err != nil {
				return "", err
			}
			if !strings.EqualFold(strings.TrimSpace(yes), "y") {
				continue
			}
		}
		return pw, nil
	}
	return "", errors.New("too many failed attempts")
}

// systemUsername is the default username offered, as Django's
// getpass.getuser: LOGNAME, USER, LNAME or USERNAME, else this process's
// user. The variables come first so that the command run again as the
// workers' user (cli: appserver.user) still offers the name of who
// typed it, not theirs.
func systemUsername() string {
	for _, k := range []string{"LOGNAME", "USER", "LNAME", "USERNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// CreatesuperuserCommand is `stack createsuperuser`.
func CreatesuperuserCommand(e *Env) *cobra.Command {
	var username, email string
	var noinput bool
	cmd := &cobra.Command{
		Use:   "createsuperuser",
		Short: "Create a staff superuser of the app (Django's createsuperuser)",
		Long: `createsuperuser adds a user who may use the admin and do everything in it.
It asks for the username, email and password (twice, not echoed) on the
terminal. With --noinput it asks nothing: the username comes from
--username, the password from STACK_SUPERUSER_PASSWORD (without it the
user cannot log in until stack changepassword), the email from
STACK_SUPERUSER_EMAIL, as Django's DJANGO_SUPERUSER_* variables. A malformed
email address is asked again, or, given by --email or the variable, refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			users, closer, err := e.Open()
			if err != nil {
				return err
			}
			defer closer.Close()
			ctx := context.Background()
			password := ""
			if noinput {
				if username == "" {
					return errors.New("createsuperuser --noinput: --username is required")
				}
				password = os.Getenv("STACK_SUPERUSER_PASSWORD")
				if email == "" {
					email = os.Getenv("STACK_SUPERUSER_EMAIL")
				}
				if err := checkEmail(users, email); err != nil {
					return fmt.Errorf("createsuperuser: %w", err) // Django's CommandError
				}
			} else {
				// An --email given is checked before any prompt, and
				// refused as Django's is, not asked again.
				if err := checkEmail(users, email); email != "" && err != nil {
					return fmt.Errorf("createsuperuser: %w", err)
				}
				p := e.prompter()
				if username, err = p.username(ctx, users, username); err != nil {
					return fmt.Errorf("createsuperuser: %w", err)
				}
				if email == "" {
					if email, err = p.email(users); err != nil {
						return fmt.Errorf("createsuperuser: %w", err)
					}
				}
				if password, err = p.newPassword(users, username, true); err != nil {
					return fmt.Errorf("createsuperuser: %w", err)
				}
			}
			if err := users.CreateSuperuser(ctx, username, email, password); err != nil {
				return fmt.Errorf("createsuperuser: %w", err)
			}
			fmt.Fprintln(e.Stdout, "Superuser created successfully.")
			return nil
		},
	}
	cmd.Flags().StringVar(&username, "username", "", "the superuser's username")
	cmd.Flags().StringVar(&email, "email", "", "the superuser's email address")
	cmd.Flags().BoolVar(&noinput, "noinput", false, "ask nothing: --username, STACK_SUPERUSER_PASSWORD, STACK_SUPERUSER_EMAIL")
	return cmd
}

// ChangepasswordCommand is `stack changepassword USERNAME`.
func ChangepasswordCommand(e *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "changepassword [USERNAME]",
		Short: "Change a user's password (Django's changepassword); their sessions end",
		Long: `changepassword sets USERNAME's password, asked twice (not echoed); without
USERNAME, the login name's (LOGNAME or USER), as Django's.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			users, closer, err := e.Open()
			if err != nil {
				return err
			}
			defer closer.Close()
			username := systemUsername() // Django's default: the login name
			if len(args) == 1 {
				username = args[0]
			}
			// Looked up before any prompt, as Django does: a typo is said
			// at once, not after the password was typed twice. Here, in
			// the process that opened the database (the child run as the
			// workers' user when there is one).
			ok, err := users.HasUser(context.Background(), username)
			if err != nil {
				return fmt.Errorf("changepassword: %w", err)
			}
			if !ok {
				return fmt.Errorf("changepassword: user '%s' does not exist", username)
			}
			fmt.Fprintf(e.Stderr, "Changing password for user '%s'\n", username)
			pw, err := e.prompter().newPassword(users, username, false)
			if err != nil {
				return fmt.Errorf("changepassword: %w", err)
			}
			if err := users.SetPassword(context.Background(), username, pw); err != nil {
				return fmt.Errorf("changepassword: %w", err)
			}
			fmt.Fprintf(e.Stdout, "Password changed successfully for user '%s'\n", username)
			return nil
		},
	}
}
