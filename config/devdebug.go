package config

import "reflect"

// DevelopmentDebugWarning is what the commands print when DevelopmentDebug
// is set.
const DevelopmentDebugWarning = "no " + DefaultPath + ": the apps run with debug on (development defaults, as a new Django project); " +
	"for production write a " + DefaultPath + " with debug: false, a secret_key and allowed_hosts"

// devDebugSource names the development default below, in messages and in
// config --explain.
const devDebugSource = "built-in defaults (no stack.yaml: development)"

// developmentDefaults turns debug on for every app that has the setting,
// when there is no stack.yaml at all: `stack up` in an empty directory runs
// the polls app at once, as startproject's settings.py starts a project in
// debug, while any configuration file leaves it off unless it says so
// (Django's global default). The stack listens on 127.0.0.1 only by
// default, and a warning says how to leave development mode.
func developmentDefaults(root *node, apps map[string]reflect.Type) {
	for name, t := range apps {
		if t == nil || !embedsDebug(t) {
			continue
		}
		appsNode := root.m["apps"]
		if appsNode == nil {
			appsNode = &node{kind: mapNode, m: map[string]*node{}, src: root.src}
			root.m["apps"] = appsNode
		}
		app := appsNode.m[name]
		if app == nil {
			app = &node{kind: mapNode, m: map[string]*node{}, src: root.src}
			appsNode.m[name] = app
		}
		app.m["debug"] = &node{kind: scalarNode, value: true, text: "true", src: devDebugSource}
	}
}

// devDebugKept reports whether a development debug default is still in
// root, not replaced by a variable or --set.
func devDebugKept(root *node) bool {
	if apps := root.m["apps"]; apps != nil && apps.kind == mapNode {
		for _, app := range apps.m {
			if app != nil && app.kind == mapNode && app.m["debug"] != nil && app.m["debug"].src == devDebugSource {
				return true
			}
		}
	}
	return false
}

// embedsDebug reports whether struct type t has a bool field tagged
// yaml:"debug", directly or through an inlined embedded struct.
func embedsDebug(t reflect.Type) bool {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("yaml") == "debug" && f.Type.Kind() == reflect.Bool {
			return true
		}
		if f.Anonymous && f.Type.Kind() == reflect.Struct && embedsDebug(f.Type) {
			return true
		}
	}
	return false
}
