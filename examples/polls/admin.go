package polls

import (
	"context"
	"database/sql"
	"math"

	"github.com/stack-web/stack/framework/admin"
	"github.com/stack-web/stack/framework/auth"
	"github.com/stack-web/stack/framework/forms"
)

// newAdmin is polls/admin.py, as tutorial part 7 leaves it: Question with
// its Choices inline (three extra rows), the list showing the question,
// its date, whether it is recent and (beyond the tutorial) its votes,
// searchable by text and filtered by date.
func newAdmin(ctx context.Context, db *sql.DB, users *auth.Auth) (*admin.Site, error) {
	site := admin.New(db, users, admin.Options{Title: "Polls administration"})
	const now = `CAST(strftime('%s', 'now') AS INTEGER)`
	question := &admin.Model{
		App: "polls", Name: "question", Str: "question_text",
		Fields: []forms.Field{
			{Name: "question_text", Label: "Question text", Kind: forms.Char, Required: true, MaxLength: 200},
			{Name: "pub_date", Label: "Date published", Kind: forms.DateTime, Required: true},
		},
		UnixTime:    []string{"pub_date"},
		ListDisplay: []string{"question_text", "pub_date", "was_published_recently", "votes"},
		Computed: map[string]admin.Computed{
			"was_published_recently": {Label: "Published recently?", Bool: true,
				SQL: `question.pub_date <= ` + now + ` AND question.pub_date > ` + now + ` - 86400`},
			"votes": {Label: "Votes", SQL: `SELECT COALESCE(SUM(votes), 0) FROM choice WHERE choice.question_id = question.id`},
		},
		SearchFields: []string{"question_text"},
		ListFilter:   []string{"pub_date"},
		Ordering:     "pub_date DESC, id DESC",
		Inlines: []admin.Inline{{
			FK:    "question_id",
			Extra: 3,
			Model: &admin.Model{Name: "choice", Str: "choice_text", Fields: []forms.Field{
				{Name: "choice_text", Label: "Choice text", Kind: forms.Char, Required: true, MaxLength: 200},
				// Django's IntegerField range on PostgreSQL and MySQL.
				{Name: "votes", Kind: forms.Int, Required: true, Min: forms.Limit(0), Max: forms.Limit(math.MaxInt32), Initial: int64(0)},
			}},
		}},
	}
	if err := site.Register(ctx, question); err != nil {
		return nil, err
	}
	return site, nil
}
