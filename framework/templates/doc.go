// Package templates gives Django-style templates on top of Go's
// html/template, keeping its contextual autoescaping: a value is escaped for
// where it lands (HTML text, an attribute, a URL, JavaScript, CSS), not only
// for HTML as Django and pongo2 do.
//
// A [Set] reads every template file of its sources once, at [New], resolves
// inheritance and includes, and keeps one ready-to-execute template per
// page; [Set.Render] only executes. Names are slash paths relative to a
// source root ("polls/index.html"); the first source that has a name wins,
// so a project folder listed first overrides an app's template.
//
// # Syntax for a Django developer
//
// Actions are Go's: {{.Field}} instead of {{ field }}, {{if}}/{{range}}/{{with}}
// ... {{end}} instead of {% if %}/{% for %}/{% with %}, and filters are
// functions in a pipeline. Django's tags map as follows.
//
//	Django                                   here
//	{% extends "base.html" %}                {{extends "base.html"}}
//	{% block content %}default{% endblock %} {{block "content" .}}default{{end}}       (in the parent)
//	{% block content %}mine{% endblock %}    {{define "content"}}mine{{end}}           (in the child)
//	{{ block.super }}                        {{template "content.super" .}}
//	{% include "polls/_choice.html" %}       {{template "polls/_choice.html" .}}
//	{% include "x.html" with c=choice %}     {{template "x.html" .Choice}}
//	{{ q.text|truncatechars:20 }}            {{.Q.Text | truncatechars 20}}
//	{{ q.pub_date|date:"N j, Y" }}           {{.Q.PubDate | date "N j, Y"}}
//	{{ n|pluralize:"y,ies" }}                {{.N | pluralize "y,ies"}}
//	{% url "polls:detail" q.id %}            {{url "polls:detail" .Q.ID}}  (a function the framework adds)
//
// # Inheritance
//
// {{extends "name"}} must be the first action of a file (white space and
// comments may precede it) and takes a string literal, so that every page is
// assembled once, at New. As in Django, a child renders only through its
// parent: text outside the child's {{define}}s is ignored. Chains have any
// depth (page → section base → site base). A block a child does not define
// keeps its parent's content; a child may override a block that an
// intermediate level introduced, and a child may also use {{block}} to
// override and, at once, open a new block for its own children. An empty
// {{define "x"}}{{end}} empties block x.
//
// Inside a template that overrides block "content",
// {{template "content.super" .}} renders what the ancestors define for
// "content" (Django's {{ block.super }}); it works at every level of a chain
// and is escaped like any other template call. Names ending in ".super" are
// reserved for this.
//
// An extends of a file that no source holds, an extends cycle, and a
// ".super" with no parent definition are errors at New that name the file
// and line.
//
// # Include
//
// Include with Go's own {{template "polls/_choice.html" .Choice}}: a name
// that is no block of the page but a template file is added to the page at
// New, with the data the call passes (Django's "with ... only" is the
// default, and the only form). Because it is a template call and not a
// function returning markup, html/template escapes the included file for the
// context it is called in. A template name that is neither a block nor a
// file is an error at New, as is including a file that extends another.
//
// # Filters
//
// [Builtins] are date, default, truncatechars, pluralize, linebreaksbr,
// yesno, length, lower, upper and title, with Django's meanings. Go passes the
// piped value last: {{.Text | truncatechars 20}} is truncatechars(20, .Text).
// Go's own len, index, printf, eq, and, or, not... remain available. Filters
// return plain strings, which html/template escapes; only linebreaksbr
// returns template.HTML, after escaping its input itself. Nothing in this
// package marks data safe: to output trusted markup, a view passes a
// template.HTML value, which is Go's equivalent of Django's |safe.
//
// # Escaping differences from Django
//
// html/template escapes double and single quotes as &#34; and &#39; where Django writes
// &quot; and &#x27;, escapes '+' in some contexts, and replaces an unsafe URL
// (javascript:...) in an href or src by "#ZgotmplZ".
//
// # Reload
//
// With Options.Reload (debug mode) a Render that comes at least a second
// after the previous check compares the modification times and sizes of the
// template files and, if any changed (or a file was added or removed),
// parses everything again. A broken template then makes Render return its
// error until it is fixed. Other goroutines keep rendering the previous
// pages meanwhile.
package templates
