package sessioncookie

import "strconv"

// Level is a message's importance, with Django's values.
type Level int

// Message levels, as django.contrib.messages.
const (
	LevelDebug   Level = 10
	LevelInfo    Level = 20
	LevelSuccess Level = 25
	LevelWarning Level = 30
	LevelError   Level = 40
)

// Message is one flash message.
type Message struct {
	Level Level  `json:"l"`
	Text  string `json:"t"`
}

// String returns the text, so {{.}} prints a message.
func (m Message) String() string { return m.Text }

// Tags returns the level as a CSS class: "debug", "info", "success",
// "warning" or "error", as Django's message.tags.
func (m Message) Tags() string {
	switch m.Level {
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelSuccess:
		return "success"
	case LevelWarning:
		return "warning"
	case LevelError:
		return "error"
	}
	return "level-" + strconv.Itoa(int(m.Level))
}
