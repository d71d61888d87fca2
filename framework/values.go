package framework

import "net/url"

// Values are the fields of a query string or a form body, Django's
// QueryDict: a field may come more than once, and then Get returns the
// LAST value, as QueryDict's request.GET["k"] and .get("k") do (url.Values'
// Get returns the first). A view written for Django's behaviour, a
// page whose script appends a corrected hidden field, or a proxy adding a
// parameter after the client's, sees what it would in Django; GetList
// gives every value in the order sent.
//
// It is a map, as url.Values, so ranging and v["k"] work; convert with
// url.Values(v) for url.Values' other methods.
type Values map[string][]string

// Get returns the last value of key, "" if there is none (Django's
// QueryDict.get).
func (v Values) Get(key string) string {
	vs := v[key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// GetList returns every value of key in the order sent, nil if there is
// none (Django's QueryDict.getlist). The slice belongs to v.
func (v Values) GetList(key string) []string { return v[key] }

// Has reports whether key was sent (with any value, even "").
func (v Values) Has(key string) bool {
	_, ok := v[key]
	return ok
}

// Encode returns the fields as a query string, sorted by key, each key's
// values in order (url.Values.Encode).
func (v Values) Encode() string { return url.Values(v).Encode() }

// FormValue returns the last value of key in the form body or, when the
// body has none, in the query string, as Django's request.POST.get and
// request.GET.get: it shadows http.Request.FormValue, which returns the
// first. A body that cannot be read or parsed counts as empty (use
// FormValues to see the error).
func (r *Request) FormValue(key string) string {
	if form, err := r.FormValues(); err == nil && form.Has(key) {
		return form.Get(key)
	}
	return r.Query().Get(key)
}

// PostFormValue returns the last value of key in the form body, Django's
// request.POST.get: it shadows http.Request.PostFormValue, which returns
// the first. A body that cannot be read or parsed counts as empty.
func (r *Request) PostFormValue(key string) string {
	form, _ := r.FormValues()
	return form.Get(key)
}
