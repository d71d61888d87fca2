package cli

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-web/stack/config"
)

// With log_format: json, a refused reload is one JSON record like every
// other line on stderr: found by running the binary, a POST /reload of a
// bad file added `stack check`'s text lines to the JSON stream (and once
// per tier child in mode: subprocess).
func TestReloadRefusalInJSONModeIsOnlyJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stack.yaml")
	if err := os.WriteFile(path, []byte("log_format: json\nbogus_key: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	c := &cmdEnv{stderr: &stderr, cfgPath: path, logLevel: "info", logFormat: "json",
		logger: slog.New(newLogHandler(&stderr, "json", slog.LevelInfo))}
	r := &reloadSet{c: c, scope: "up"}
	r.add("edge", func(*config.File) error { t.Error("a refused configuration was applied"); return nil })
	err := r.reload()
	if err == nil || !strings.Contains(err.Error(), "bogus_key") {
		t.Fatalf("reload: %v, want the refusal naming bogus_key", err)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	for _, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Errorf("not a JSON line on stderr: %q", l)
		}
	}
	if !strings.Contains(stderr.String(), "bogus_key") {
		t.Errorf("the refusal's reason is not logged:\n%s", stderr.String())
	}
}
