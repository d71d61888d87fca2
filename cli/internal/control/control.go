// Package control is the commands that talk to a running stack over its
// control socket (admin.socket): `stack status`, `stack reload` and `stack
// top`, an HTTP client of the admin's /status.json and /reload and the
// tables they print. It stands alone because it is the other end of a
// protocol, not part of the stack it talks to: it runs in a process of its
// own, after the stack has started, and knows the stack only by the
// admin's answers. cli hands it the way to find the socket.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-web/stack/admin"
)

// Env is what the commands write to and how they find the socket.
type Env struct {
	Stdout io.Writer
	// Terminal reports whether Stdout is a terminal: top refreshes in
	// place on one, and prints one view otherwise.
	Terminal func() bool
	// Socket returns the control socket's path: the --socket flag's
	// value if not "", else the configuration's admin.socket.
	Socket func(flag string) (string, error)
}

// client is an HTTP client of the control socket.
type client struct {
	path string
	hc   *http.Client
}

// clientFor finds the socket (Env.Socket) and makes its client.
func (e *Env) clientFor(socket string) (*client, error) {
	socket, err := e.Socket(socket)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	return &client{path: socket, hc: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}, nil
}

// do sends one request and returns the body of a 2xx answer; any other
// answer is an error carrying its body (a reload's refusal).
func (a *client) do(method, path string) ([]byte, error) {
	req, _ := http.NewRequest(method, "http://admin"+path, nil)
	resp, err := a.hc.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			return nil, fmt.Errorf("control socket %s: %w (is the stack running, with this configuration? a socket of another user is refused)", a.path, op.Err)
		}
		return nil, fmt.Errorf("control socket %s: %w", a.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("control socket %s: reading the answer: %w", a.path, err)
	}
	if resp.StatusCode/100 != 2 {
		return b, fmt.Errorf("%s", strings.TrimSpace(string(b)))
	}
	return b, nil
}

func (a *client) status() (*admin.Status, []byte, error) {
	b, err := a.do(http.MethodGet, "/status.json")
	if err != nil {
		return nil, nil, err
	}
	var st admin.Status
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, nil, fmt.Errorf("control socket %s: the status is not JSON: %w", a.path, err)
	}
	return &st, b, nil
}

// StatusCommand is `stack status`.
func StatusCommand(e *Env) *cobra.Command {
	var asJSON bool
	var socket string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a running stack's tiers, workers and upstreams (over its control socket)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ac, err := e.clientFor(socket)
			if err != nil {
				return err
			}
			st, raw, err := ac.status()
			if err != nil {
				return err
			}
			if asJSON {
				_, err := e.Stdout.Write(raw)
				return err
			}
			writeStatus(e.Stdout, st, nil)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON (the admin's /status.json)")
	cmd.Flags().StringVar(&socket, "socket", "", "the control socket (default: admin.socket of the configuration)")
	return cmd
}

// ReloadCommand is `stack reload`.
func ReloadCommand(e *Env) *cobra.Command {
	var socket string
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Reload a running stack's configuration, as SIGHUP does, and say whether it was applied",
		Long: `reload asks the running stack, over its control socket, to re-read its
configuration and apply it, as SIGHUP does. It waits for the result: exit 0
when it was applied; exit 1 with the reason when it was refused (the
configuration is not valid, or a key needs a restart) and the running
configuration stays.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ac, err := e.clientFor(socket)
			if err != nil {
				return err
			}
			b, err := ac.do(http.MethodPost, "/reload")
			if err != nil {
				return err
			}
			fmt.Fprintf(e.Stdout, "stack: %s", b)
			return nil
		},
	}
	cmd.Flags().StringVar(&socket, "socket", "", "the control socket (default: admin.socket of the configuration)")
	return cmd
}

// TopCommand is `stack top`.
func TopCommand(e *Env) *cobra.Command {
	var socket string
	var once bool
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "top",
		Short: "A live view of a running stack's workers and traffic, as uwsgitop (Ctrl-C quits)",
		Long: `top shows the running stack's request rate, latency and workers, refreshed
in place every --interval. Without a terminal (a pipe, a file) or with
--once it prints one view and exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ac, err := e.clientFor(socket)
			if err != nil {
				return err
			}
			live := !once && e.Terminal()
			prev := map[int]uint64{}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if live {
				fmt.Fprint(e.Stdout, "\x1b[?25l")       // hide the cursor
				defer fmt.Fprint(e.Stdout, "\x1b[?25h") // and show it again
			}
			for {
				st, _, err := ac.status()
				if err != nil {
					return err
				}
				var b strings.Builder
				if live {
					b.WriteString("\x1b[H\x1b[2J") // home, clear
				}
				writeStatus(&b, st, prev)
				if live {
					fmt.Fprintf(&b, "\nrefreshing every %s; Ctrl-C quits\n", every)
				}
				io.WriteString(e.Stdout, b.String())
				if !live {
					return nil
				}
				for _, w := range st.Workers {
					prev[w.PID] = w.Requests
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(every):
				}
			}
		},
	}
	cmd.Flags().StringVar(&socket, "socket", "", "the control socket (default: admin.socket of the configuration)")
	cmd.Flags().BoolVar(&once, "once", false, "print one view and exit")
	cmd.Flags().DurationVar(&every, "interval", time.Second, "time between refreshes")
	return cmd
}

// writeStatus prints st as tables. With prev (top), each worker's
// requests since the last view are shown too.
func writeStatus(w io.Writer, st *admin.Status, prev map[int]uint64) {
	state := "ready"
	if !st.Ready {
		state = "NOT READY (" + st.NotReady + ")"
	}
	fmt.Fprintf(w, "stack pid %d, up %s, %s\n", st.PID, time.Duration(st.Uptime*float64(time.Second)).Round(time.Second), state)
	if n := len(st.Requests); n > 0 {
		p := st.Requests[n-1]
		var sum float64
		for _, q := range st.Requests {
			sum += q.Rate
		}
		fmt.Fprintf(w, "requests: %.1f/s now, %.1f/s over the last %ds; latency p50 %s p90 %s p99 %s; 5xx %.1f/s\n",
			p.Rate, sum/float64(n), n, secs(p.P50), secs(p.P90), secs(p.P99), p.Errors)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIER\tSTATE\tADDRESSES")
	for _, t := range st.Tiers {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, t.State, strings.Join(t.Addrs, ", "))
	}
	tw.Flush()
	if len(st.Workers) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		head := "WORKER\tPID\tSTATE\tREQUESTS\t"
		if prev != nil {
			head += "DELTA\t"
		}
		fmt.Fprintln(tw, head+"RSS\tAGE\tAVG\tRESPAWNS\tHARAKIRI\t CURRENT")
		for _, wk := range st.Workers {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t", wk.ID, wk.PID, wk.State, wk.Requests)
			if prev != nil {
				if p, ok := prev[wk.PID]; ok && wk.Requests >= p {
					fmt.Fprintf(tw, "%d\t", wk.Requests-p)
				} else {
					fmt.Fprint(tw, "-\t")
				}
			}
			cur := wk.Current
			if cur != "" {
				cur += " (" + secs(wk.Running) + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t %s\n", mib(wk.RSS), time.Duration(wk.Age*float64(time.Second)).Round(time.Second),
				secs(wk.AvgRT), wk.Respawns, wk.Harakiri, cur)
		}
		tw.Flush()
	}
	if len(st.Upstreams) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "UPSTREAM\tPROTOCOL\tSERVER\tWEIGHT\tHEALTH\tFAILS")
		for _, u := range st.Upstreams {
			for _, s := range u.Servers {
				h := "up"
				if !s.Up {
					h = "DOWN"
				}
				if s.Backup {
					h += " (backup)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\n", u.Name, u.Protocol, s.Address, s.Weight, h, s.Fails)
			}
		}
		tw.Flush()
	}
	if n := len(st.Errors); n > 0 && prev == nil {
		fmt.Fprintln(w, "\nrecent warnings and errors:")
		for _, e := range st.Errors[max(0, n-5):] {
			fmt.Fprintf(w, "  %s %s %s %s\n", e.Time.Format("15:04:05"), e.Level, e.Message, e.Attrs)
		}
	}
}

func secs(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

func mib(b int64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20))
}
