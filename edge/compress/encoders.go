package compress

import (
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// encoder is what gzip.Writer and zstd.Encoder have in common.
type encoder interface {
	io.Writer
	Flush() error
	Close() error
	Reset(io.Writer)
}

// The levels favour speed: a response is compressed once per request,
// and the link saves only what a level gains over the faster one.
// BenchmarkLevels on a 4 KiB and a 64 KiB page (CPU per page, size):
// gzip 1 35 µs 28.4%, 340 µs 20.5%; gzip 5 54 µs 26.7%, 790 µs 18.6%;
// zstd fastest 33 µs 28.7%, 445 µs 19.0%; zstd default 43 µs 27.1%,
// 650 µs 18.4%. Level 1 is also nginx's default gzip_comp_level.
const (
	gzipLevel = 1
	zstdLevel = zstd.SpeedFastest
	// zstdWindow bounds the memory an encoder and a client's decoder
	// hold (browsers accept windows up to 8 MiB); 128 KiB is Caddy's.
	zstdWindow = 128 << 10
)

// Encoders are kept between responses: a zstd encoder costs hundreds of
// kilobytes to build, a gzip one tens. The pools are the package's only
// state and hold nothing a response leaves behind (Reset drops it).
var (
	gzipPool = sync.Pool{New: func() any {
		w, err := gzip.NewWriterLevel(nil, gzipLevel)
		if err != nil {
			panic(err) // a constant level: cannot happen
		}
		return w
	}}
	zstdPool = sync.Pool{New: func() any {
		w, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstdLevel),
			zstd.WithEncoderConcurrency(1), // encode in the handler's goroutine
			zstd.WithWindowSize(zstdWindow),
			zstd.WithZeroFrames(true), // an empty body is still a valid frame
			zstd.WithEncoderCRC(true),
		)
		if err != nil {
			panic(err) // constant options: cannot happen
		}
		return w
	}}
	// heldPool lends the buffers that hold a response's first bytes while
	// its length is unknown.
	heldPool sync.Pool
	// copyPool lends ReadFrom its buffer when it cannot pass the reader on.
	copyPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
)

// getEncoder returns a pooled encoder for c writing to w.
func getEncoder(c Coding, w io.Writer) encoder {
	var e encoder
	switch c {
	case Gzip:
		e = gzipPool.Get().(*gzip.Writer)
	case Zstd:
		e = zstdPool.Get().(*zstd.Encoder)
	default:
		panic("compress: no encoder for " + c.String())
	}
	e.Reset(w)
	return e
}

// putEncoder returns e to its pool, dropping whatever it holds and its
// writer.
func putEncoder(e encoder) {
	e.Reset(io.Discard)
	switch e := e.(type) {
	case *gzip.Writer:
		gzipPool.Put(e)
	case *zstd.Encoder:
		zstdPool.Put(e)
	}
}

// getHeld returns an empty buffer; it grows as bytes are held, up to
// min_length.
func getHeld() *[]byte {
	if b, ok := heldPool.Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, 1024)
	return &b
}
