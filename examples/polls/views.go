package polls

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/stack-web/stack/framework"
	"github.com/stack-web/stack/framework/forms"
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
// back with the tutorial's error beside the choices.
func (a *App) vote(w http.ResponseWriter, r *framework.Request) error {
	q, err := a.question(r)
	if err != nil {
		return err
	}
	data, err := r.FormValues()
	if err != nil {
		return err
	}
	f := voteForm(q).Bind(data)
	if f.IsValid() {
		err = a.store.vote(r.Context(), q.ID, f.CleanedInt("choice"))
		if errors.Is(err, errNoChoice) { // the choice was deleted meanwhile
			f.AddError("choice", noChoice)
		} else if err != nil {
			return err
		}
	}
	if f.HasErrors() {
		for i := range q.Choices { // the form comes back as the user left it
			q.Choices[i].Selected = strconv.FormatInt(q.Choices[i].ID, 10) == f.Value("choice")
		}
		return r.Render(w, "polls/detail.html", framework.Context{
			"question":      q,
			"form":          f,
			"error_message": f.Errors("choice")[0],
		})
	}
	r.Messages().Success("Thanks for voting.")
	return r.RedirectTo(w, "polls:results", q.ID)
}

// noChoice is the tutorial's message for a vote without a valid choice.
const noChoice = "You didn't select a choice."

// voteForm is the vote form of question q: one required choice among q's.
// Only a POST builds it; the detail page renders the same radio inputs
// from the question itself.
func voteForm(q Question) *forms.Form {
	opts := make([]forms.Option, len(q.Choices))
	for i, c := range q.Choices {
		opts[i] = forms.Option{Value: strconv.FormatInt(c.ID, 10), Label: c.Text}
	}
	return forms.New(forms.Field{
		Name: "choice", Kind: forms.Choice, Required: true, Choices: opts, Widget: "radio",
		ErrorMessages: map[string]string{"required": noChoice, "invalid_choice": noChoice},
		Clean: func(v any) (any, error) {
			n, err := strconv.ParseInt(v.(string), 10, 64)
			if err != nil {
				return nil, forms.Invalid(noChoice)
			}
			return n, nil
		},
	})
}

// question loads the question named by the URL, or answers 404.
func (a *App) question(r *framework.Request) (Question, error) {
	q, err := a.store.questionWithChoices(r.Context(), int64(r.Int("question_id")), time.Now())
	if errors.Is(err, errNoQuestion) {
		return q, framework.NotFound("No question matches the given query.")
	}
	return q, err
}
