package framework

import (
	"fmt"
	"strings"

	"github.com/stack-web/stack/framework/internal/urlpath"
)

// ErrNoReverseMatch is wrapped by every Reverse failure, as Django's
// NoReverseMatch: an unknown name, or arguments that fit none of the
// patterns with that name (wrong number, wrong type, or a value its
// converter rejects).
var ErrNoReverseMatch = urlpath.ErrNoReverseMatch

// Kwargs passes Reverse arguments by parameter name, Django's
// reverse(..., kwargs={...}): Reverse("polls:detail", Kwargs{"question_id": 5}).
type Kwargs = urlpath.Kwargs

// reverse builds the URL of the route called name. As in Django, when
// several patterns share a name the last one that the arguments fit wins.
func (rt *router) reverse(name string, args []any) (string, error) {
	routes := rt.byName[name]
	if len(routes) == 0 {
		return "", fmt.Errorf("framework: reverse %q: %w: no URL pattern has this name", name, ErrNoReverseMatch)
	}
	var kw Kwargs
	if len(args) == 1 {
		kw, _ = args[0].(Kwargs)
	}
	var tried []string
	for i := len(routes) - 1; i >= 0; i-- {
		u, err := routes[i].Build(args, kw)
		if err == nil {
			return u, nil
		}
		tried = append(tried, fmt.Sprintf("%q (%v)", routes[i].Pattern, err))
	}
	what := fmt.Sprintf("arguments %v", args)
	if kw != nil {
		what = fmt.Sprintf("keyword arguments %v", map[string]any(kw))
	}
	return "", fmt.Errorf("framework: reverse %q with %s: %w: %d pattern(s) tried: %s",
		name, what, ErrNoReverseMatch, len(tried), strings.Join(tried, ", "))
}
