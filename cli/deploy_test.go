package cli

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-web/stack/framework"
)

// siteApp is a framework app's registry entry, as cmd/stack has polls.
func siteApp() App {
	return App{
		Name: "site",
		Settings: func() any {
			s := framework.DefaultSettings()
			s.Name = "site"
			return &s
		},
		New: func(Env) (http.Handler, error) { return http.NotFoundHandler(), nil },
	}
}

// checkIn runs `stack check ARGS` with yaml as the configuration.
func checkIn(t *testing.T, yaml string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "stack.yaml")
	yaml = strings.ReplaceAll(yaml, "RUN", filepath.Join(dir, "run"))
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code = Run(append([]string{"check", "appserver", "-c", cfg}, args...), &out, &errb, siteApp())
	return code, out.String(), errb.String()
}

const deployBase = "run_dir: RUN\nappserver: {listen: unix:RUN/app.sock, app: site}\n"

// `stack check --deploy` lists each of Django's deploy checks that fails,
// and none for a production configuration; plain check lists none of them.
func TestCheckDeploy(t *testing.T) {
	dev := deployBase + "apps:\n  site: {debug: true, secret_key: short}\n"
	code, _, stderr := checkIn(t, dev, "--deploy")
	if code != 0 {
		t.Fatalf("check --deploy: exit %d (warnings must not fail it)\n%s", code, stderr)
	}
	for _, want := range []string{
		"warning: apps.site.debug: is true", "(security.W018)",
		"warning: apps.site.secret_key: has less than 50 characters", "(security.W009)",
		"warning: apps.site.allowed_hosts: is empty", "(security.W020)",
		"warning: apps.site.secure_ssl_redirect: is false", "(security.W008)",
		"warning: apps.site.secure_hsts_seconds: is 0", "(security.W004)",
		"warning: apps.site.session_cookie_secure: is false", "(security.W012)",
		`deploy: 6 issue(s) found for app "site"`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("check --deploy does not say %q:\n%s", want, stderr)
		}
	}
	if _, _, plain := checkIn(t, dev); strings.Contains(plain, "security.W0") {
		t.Errorf("plain check (debug on) lists deploy warnings:\n%s", plain)
	}

	prod := deployBase + "apps:\n  site:\n    secret_key: " + strings.Repeat("k3y-Z", 12) + "\n" +
		"    allowed_hosts: [example.com]\n    secure_ssl_redirect: true\n    secure_hsts_seconds: 31536000\n    session_cookie_secure: true\n"
	code, _, stderr = checkIn(t, prod, "--deploy")
	if code != 0 || strings.Contains(stderr, "warning:") || !strings.Contains(stderr, "deploy: 0 issue(s)") {
		t.Errorf("a production configuration: exit %d\n%s", code, stderr)
	}
}

// Review item 4 at the command line: debug off with a weak key is valid
// but warned about by plain `stack check`.
func TestCheckWarnsWeakSecretKey(t *testing.T) {
	code, stdout, stderr := checkIn(t, deployBase+"apps:\n  site: {secret_key: x, allowed_hosts: [example.com]}\n")
	if code != 0 || !strings.Contains(stdout, "configuration is valid") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "warning: apps.site.secret_key: has less than 50 characters, less than 5 unique characters") {
		t.Errorf("no warning for the weak key:\n%s", stderr)
	}
}
