//go:build !nopostgres

package polls

// PostgreSQL through pgx, the field's standard driver (pure Go). It costs
// the binary about 4 MB (stripped: 18.9 → 23.2 MB); `-tags nopostgres`
// builds without it, for an image that runs polls on SQLite only.
import _ "github.com/jackc/pgx/v5/stdlib"
