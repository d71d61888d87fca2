package e2e

import (
	"regexp"
	"testing"
)

// `stack config --explain` names the file and line of a value set in
// stack.yaml and the variable of one set by the environment.
func TestConfigExplainNamesFileLineAndVariable(t *testing.T) {
	dir := writeConfig(t, "mode: inprocess\nedge:\n  client_max_body_size: 3MiB\napps: {polls: {debug: true}}\n")
	out, code := configRun(t, dir, append([]string{"STACK_EDGE_SEND_TIMEOUT=7s"}, opsFastExit...), "config", "--explain", "--set", "appserver.threads=3")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		`(?m)^edge\.client_max_body_size +3MiB +stack\.yaml:3$`,
		`(?m)^edge\.send_timeout +7s +STACK_EDGE_SEND_TIMEOUT$`,
		`(?m)^appserver\.threads +3 +--set appserver\.threads$`,
		`(?m)^shutdown_timeout +10s +default$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("no line matches %s:\n%s", want, out)
		}
	}
}
