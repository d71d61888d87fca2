package polls

import (
	"net/http"

	"github.com/stack-web/stack/framework"
)

// urls is polls/urls.py, included under "polls/" with the namespace
// "polls": {{url "polls:detail" 5}} is /polls/5/.
func (a *App) urls() []framework.Pattern {
	return []framework.Pattern{
		framework.Path("", a.index, "index"),
		framework.Path("<int:question_id>/", a.detail, "detail"),
		framework.Path("<int:question_id>/results/", a.results, "results"),
		framework.Path("<int:question_id>/vote/", a.vote, "vote").Methods(http.MethodPost),
	}
}
