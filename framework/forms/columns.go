package forms

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// FromColumns builds a field per column, as Django's ModelForm builds one
// per model field: the kind from the column's declared type (INTEGER →
// Int, BOOLEAN → Bool, DATE/TIME → DateTime, anything else Char, with
// VARCHAR(n)'s n as MaxLength), Required when the column is NOT NULL (as
// far as the driver says). Columns named in skip (the primary key,
// foreign keys) are left out. Change what the types cannot say (a label,
// a range, an INTEGER that holds a time) on the returned fields.
func FromColumns(cols []*sql.ColumnType, skip ...string) []Field {
	var out []Field
	for _, c := range cols {
		if slices.Contains(skip, c.Name()) {
			continue
		}
		f := Field{Name: c.Name()}
		t := strings.ToUpper(c.DatabaseTypeName())
		switch {
		case strings.Contains(t, "BOOL"):
			f.Kind = Bool
		case strings.Contains(t, "INT"):
			f.Kind = Int
		case strings.Contains(t, "DATE"), strings.Contains(t, "TIME"):
			f.Kind = DateTime
		default:
			f.Kind = Char
			if n, ok := c.Length(); ok && n > 0 && n < 1<<20 {
				f.MaxLength = int(n)
			}
		}
		if nullable, ok := c.Nullable(); ok && !nullable && f.Kind != Bool {
			f.Required = true
		}
		out = append(out, f)
	}
	return out
}

// TableColumns returns the column types of table, read from an empty
// SELECT, for FromColumns. table must be a trusted identifier (it is
// quoted, not bound).
func TableColumns(ctx context.Context, db *sql.DB, table string) ([]*sql.ColumnType, error) {
	rows, err := db.QueryContext(ctx, `SELECT * FROM "`+strings.ReplaceAll(table, `"`, `""`)+`" LIMIT 0`)
	if err != nil {
		return nil, fmt.Errorf("forms: reading the columns of %s: %w", table, err)
	}
	defer rows.Close()
	cols, err := rows.ColumnTypes()
	if err != nil {
		return nil, fmt.Errorf("forms: reading the columns of %s: %w", table, err)
	}
	return cols, nil
}
