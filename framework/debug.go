package framework

import (
	"net/http"

	"github.com/stack-web/stack/framework/internal/debugpage"
)

// IsSensitiveName reports whether a header or setting name looks like it
// holds a secret (X-Api-Key, Authorization, secret_key, db_password...), by
// Django's rule. Debug pages show such values as stars.
func IsSensitiveName(name string) bool { return debugpage.IsSensitiveName(name) }

// writeDebug500 writes the debug error page: what failed, the request,
// the stack when there is one, and the app's settings.
func writeDebug500(w http.ResponseWriter, r *http.Request, title string, stack []byte) {
	var settings [][2]string
	if st := FromRequest(r); st != nil && st.app != nil {
		settings = debugpage.SettingsRows(st.app.settings)
	}
	debugpage.Write500(w, r, title, stack, settings)
}

// writeDebug404 writes the debug 404 page, listing the URL patterns tried.
func (a *App) writeDebug404(w http.ResponseWriter, r *http.Request, msg string) {
	debugpage.Write404(w, r, msg, a.Routes())
}
