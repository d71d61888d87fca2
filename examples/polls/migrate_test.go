package polls

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Migrate reports each step with how far along it is, and is idempotent;
// a cancelled context stops it with nothing applied.
func TestMigrateReportsProgressAndIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Migrate(ctx, DefaultSettings(), dir, &bytes.Buffer{}); err == nil {
		t.Error("a cancelled migration succeeded")
	}
	var out bytes.Buffer
	if err := Migrate(context.Background(), DefaultSettings(), dir, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[1/2] Applying polls.0001_initial... OK", "[2/2] Seeding 5 sample questions... OK"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := Migrate(context.Background(), DefaultSettings(), dir, &out); err != nil || !strings.Contains(out.String(), "No migrations to apply.") {
		t.Errorf("second run: %v\n%s", err, out.String())
	}
}
