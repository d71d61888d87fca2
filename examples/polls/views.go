package polls

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/stack-web/stack/framework"
)

// index lists the five latest published questions.
func (a *App) index(w http.ResponseWriter, r *framework.Request) error {
	qs, err := a.store.latestQuestions(r.Context(), 5, time.Now())
	if err != nil {
		return err
	}
	return r.Render(w, "polls/index.html", framework.Context{"latest_question_list": qs})
}

// detail shows a question and its vote form.
func (a *App) detail(w http.ResponseWriter, r *framework.Request) error {
	q, err := a.question(r)
	if err != nil {
		return err
	}
	return r.Render(w, "polls/detail.html", framework.Context{"question": q})
}

// results shows the votes of a question.
func (a *App) results(w http.ResponseWriter, r *framework.Request) error {
	q, err := a.question(r)
	if err != nil {
		return err
	}
	return r.Render(w, "polls/results.html", framework.Context{"question": q})
}

// vote records a vote and redirects to the results (Post/Redirect/Get, so
// a reload does not vote twice). Without a valid choice, the form comes
// back with an error, as in the tutorial.
func (a *App) vote(w http.ResponseWriter, r *framework.Request) error {
	q, err := a.question(r)
	if err != nil {
		return err
	}
	form, err := r.FormValues()
	if err != nil {
		return err
	}
	choice, convErr := strconv.ParseInt(form.Get("choice"), 10, 64)
	if convErr == nil {
		err = a.store.vote(r.Context(), q.ID, choice)
	}
	if convErr != nil || errors.Is(err, errNoChoice) {
		return r.Render(w, "polls/detail.html", framework.Context{
			"question":      q,
			"error_message": "You didn't select a choice.",
		})
	}
	if err != nil {
		return err
	}
	r.Messages().Success("Thanks for voting.")
	return r.RedirectTo(w, "polls:results", q.ID)
}

// question loads the question named by the URL, or answers 404.
func (a *App) question(r *framework.Request) (Question, error) {
	q, err := a.store.questionWithChoices(r.Context(), int64(r.Int("question_id")), time.Now())
	if errors.Is(err, errNoQuestion) {
		return q, framework.NotFound("No question matches the given query.")
	}
	return q, err
}
