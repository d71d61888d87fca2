package edge

// truncate bounds what a log line quotes of a client's input.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}
