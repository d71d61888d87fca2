package polls

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"sync"
	"time"
)

// sqliteReads runs the pages' two reads (latestSQL, questionSQL) on
// SQLite through the driver's own connections and statements, without
// database/sql: its pool, Stmt, Rows and Scan by reflection cost about as
// much again as the reads themselves (BenchmarkLatestQuestions). Each
// connection serves one read at a time and ends its read transaction
// (rows.Close resets the statement) before going back to the pool, so
// every read sees what any connection or process committed before it, as
// database/sql's do.
//
// Anything unusual leaves the request to database/sql, which then gives
// the answer and the error it always gave: every connection busy (the pool
// keeps at most maxSQLiteReaders, and never waits), a connection that
// cannot be opened, a driver error, or a column whose value is not of the
// type the schema declares (Scan would convert it).
type sqliteReads struct {
	connect func() (driver.Conn, error)

	mu     sync.Mutex
	idle   []*sqliteReader
	open   int // readers in idle or in use
	closed bool
}

// maxSQLiteReaders bounds the connections of one process's pool: reads
// are short and CPU-bound, so more run at once only when the scheduler
// preempts one mid-read.
const maxSQLiteReaders = 4

// errFallBack says a read is left to database/sql.
var errFallBack = errors.New("polls: read left to database/sql")

func newSQLiteReads(drv driver.Driver, dsn string) *sqliteReads {
	return &sqliteReads{connect: func() (driver.Conn, error) { return drv.Open(dsn) }}
}

// sqliteReader is one connection with the two statements prepared, and
// the argument and row buffers reused by each read.
type sqliteReader struct {
	conn             driver.Conn
	latest, question driver.Stmt
	args             [2]driver.NamedValue
	dest             [6]driver.Value
}

// get returns an idle reader, or a new one, or nil when the pool is full
// or closed or the connection cannot be made.
func (p *sqliteReads) get() *sqliteReader {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		r := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return r
	}
	if p.closed || p.open >= maxSQLiteReaders {
		p.mu.Unlock()
		return nil
	}
	p.open++
	p.mu.Unlock()
	r, err := p.dial()
	if err != nil {
		p.mu.Lock()
		p.open--
		p.mu.Unlock()
		return nil
	}
	return r
}

// put gives r back; a reader that failed (err is not nil) is closed, as
// is any once the pool is closed.
func (p *sqliteReads) put(r *sqliteReader, err error) {
	clear(r.dest[:]) // the row's strings go with the request
	p.mu.Lock()
	if err == nil && !p.closed {
		p.idle = append(p.idle, r)
		p.mu.Unlock()
		return
	}
	p.open--
	p.mu.Unlock()
	r.close()
}

// close closes the idle readers; those in use are closed when put back.
func (p *sqliteReads) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.open -= len(idle)
	p.mu.Unlock()
	for _, r := range idle {
		r.close()
	}
}

func (p *sqliteReads) dial() (*sqliteReader, error) {
	c, err := p.connect()
	if err != nil {
		return nil, err
	}
	r := &sqliteReader{conn: c}
	if r.latest, err = c.Prepare(latestSQL); err == nil {
		r.question, err = c.Prepare(questionSQL)
	}
	if err != nil {
		r.close()
		return nil, err
	}
	r.args[0].Ordinal, r.args[1].Ordinal = 1, 2
	return r, nil
}

func (r *sqliteReader) close() {
	for _, st := range []driver.Stmt{r.latest, r.question} {
		if st != nil {
			st.Close()
		}
	}
	r.conn.Close()
}

// query runs st with the reader's two arguments. Context.Background: a
// WAL reader never waits for a writer, so there is nothing to cancel, and
// a context that can end costs a watcher goroutine per query (readContext).
func (r *sqliteReader) query(st driver.Stmt, a0, a1 int64) (driver.Rows, error) {
	q, ok := st.(driver.StmtQueryContext)
	if !ok {
		return nil, errFallBack
	}
	r.args[0].Value, r.args[1].Value = a0, a1
	return q.QueryContext(context.Background(), r.args[:])
}

// latestQuestions is store.latestQuestions's read, appending to qs.
func (r *sqliteReader) latestQuestions(qs []Question, n int, now time.Time) ([]Question, error) {
	rows, err := r.query(r.latest, now.Unix(), int64(n))
	if err != nil {
		return nil, err
	}
	dest := r.dest[:3]
	for {
		if err = rows.Next(dest); err != nil {
			break
		}
		id, ok1 := dest[0].(int64)
		text, ok2 := dest[1].(string)
		pub, ok3 := dest[2].(int64)
		if !ok1 || !ok2 || !ok3 {
			err = errFallBack
			break
		}
		qs = append(qs, Question{ID: id, Text: text, PubDate: time.Unix(pub, 0)})
	}
	if cerr := rows.Close(); err == io.EOF {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return qs, nil
}

// questionWithChoices is store.questionWithChoices's read; found is false
// when no row matched.
func (r *sqliteReader) questionWithChoices(id int64, now time.Time) (q Question, found bool, err error) {
	rows, err := r.query(r.question, id, now.Unix())
	if err != nil {
		return q, false, err
	}
	dest := r.dest[:6]
	for {
		if err = rows.Next(dest); err != nil {
			break
		}
		qid, ok1 := dest[0].(int64)
		text, ok2 := dest[1].(string)
		pub, ok3 := dest[2].(int64)
		if !ok1 || !ok2 || !ok3 {
			err = errFallBack
			break
		}
		if !found {
			found = true
			q.ID, q.Text, q.PubDate = qid, text, time.Unix(pub, 0)
		}
		if dest[3] == nil { // the LEFT JOIN's row of a question without choices
			continue
		}
		cid, ok1 := dest[3].(int64)
		ctext, ok2 := dest[4].(string)
		votes, ok3 := dest[5].(int64)
		if !ok1 || !ok2 || !ok3 {
			err = errFallBack
			break
		}
		q.Choices = append(q.Choices, Choice{ID: cid, Text: ctext, Votes: int(votes)})
	}
	if cerr := rows.Close(); err == io.EOF {
		err = cerr
	}
	if err != nil {
		return Question{}, false, err
	}
	return q, found, nil
}
