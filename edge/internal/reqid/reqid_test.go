package reqid

import "testing"

// BenchmarkNew: the id costs its string and nothing else.
func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = New()
	}
}
