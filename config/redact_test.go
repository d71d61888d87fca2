package config

import "github.com/stack-web/stack/config/internal/redact"

// redacted is what a hidden secret is shown as.
const redacted = redact.Redacted
