package cli

import (
	"strings"
	"testing"

	"github.com/stack-web/stack/config"
)

// The status page (/status, /status.json, `stack status`, served on the
// unauthenticated admin.listen) named each of `processes` by its command
// verbatim: found by running the binary, a password in a command line
// that /config redacted was shown there whole.
func TestStatusTiersRedactProcessCommands(t *testing.T) {
	f := new(config.Default())
	f.Processes = []config.Process{{Name: "worker", Command: []string{"celery", "--broker=redis://:brokerpw@h:6379/0", "--password=cmdpw", "-A", "proj"}}}
	r := &reloadSet{scope: "up"}
	r.current.Store(f)
	a := &adminWiring{f: f, reload: r}
	tiers := a.tiers(nil, nil)
	if len(tiers) != 1 || tiers[0].Name != "worker" {
		t.Fatalf("tiers: %+v", tiers)
	}
	shown := strings.Join(tiers[0].Addrs, " ")
	for _, secret := range []string{"brokerpw", "cmdpw"} {
		if strings.Contains(shown, secret) {
			t.Errorf("the status shows %s: %q", secret, shown)
		}
	}
	if !strings.Contains(shown, "celery") || !strings.Contains(shown, "-A proj") {
		t.Errorf("the command is not shown: %q", shown)
	}
}

// A worker's current request is shown without its query: found by
// running the binary, GET /delay/2?api_key=... was on /status.json.
func TestStatusWorkersHideTheQuery(t *testing.T) {
	for in, want := range map[string]string{
		"GET /delay/2?api_key=QSECRET&x=1": "GET /delay/2?…",
		"POST /polls/1/vote/":              "POST /polls/1/vote/",
		"":                                 "",
	} {
		if got := withoutQuery(in); got != want {
			t.Errorf("withoutQuery(%q) = %q, want %q", in, got, want)
		}
	}
}
