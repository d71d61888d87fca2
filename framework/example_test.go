package framework_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing/fstest"

	"github.com/stack-web/stack/framework"
)

func Example() {
	// views.py
	detail := func(w http.ResponseWriter, r *framework.Request) error {
		id := r.Int("question_id")
		if id > 100 {
			return framework.NotFound("no such question")
		}
		return r.Render(w, "polls/detail.html", framework.Context{"id": id})
	}
	// templates/polls/detail.html
	templates := fstest.MapFS{"polls/detail.html": {Data: []byte(
		`<h1>Question {{.id}}</h1><a href="{{url "polls:detail" .id}}">permalink</a>`)}}

	app, err := framework.New(
		framework.Settings{SecretKey: "change-me", AllowedHosts: []string{"example.com"}},
		framework.Config{
			URLs: []framework.Pattern{
				framework.Include("polls/", "polls",
					framework.Path("<int:question_id>/", detail, "detail")),
			},
			Apps: []framework.AppConfig{{Name: "polls", Templates: templates}},
		})
	if err != nil {
		fmt.Println(err)
		return
	}

	u, _ := app.Reverse("polls:detail", 5)
	for _, target := range []string{u, "/polls/5", "/polls/500/"} {
		w := httptest.NewRecorder()
		app.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		fmt.Printf("%s %d location=%q body=%q\n", target, w.Code, w.Header().Get("Location"), w.Body.String())
	}
	// Output:
	// /polls/5/ 200 location="" body="<h1>Question 5</h1><a href=\"/polls/5/\">permalink</a>"
	// /polls/5 301 location="/polls/5/" body=""
	// /polls/500/ 404 location="" body="404 Not Found\n\nno such question\n"
}
