package auth

import (
	"errors"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// ValidatePassword applies Django's default password validators
// (AUTH_PASSWORD_VALIDATORS of startproject): at least 8 characters, not
// entirely numeric, not too similar to the username, not a common password.
func ValidatePassword(password, username string) error {
	var problems []string
	if n := utf8.RuneCountInString(password); n < 8 {
		problems = append(problems, "This password is too short. It must contain at least 8 characters.")
	}
	if password != "" && strings.Trim(password, "0123456789") == "" {
		problems = append(problems, "This password is entirely numeric.")
	}
	if username != "" && similar(password, username) {
		problems = append(problems, "The password is too similar to the username.")
	}
	if commonPasswords()[strings.ToLower(strings.TrimSpace(password))] {
		problems = append(problems, "This password is too common.")
	}
	if problems != nil {
		return errors.New(strings.Join(problems, " "))
	}
	return nil
}

// maxSimilarity is Django's UserAttributeSimilarityValidator default.
const maxSimilarity = 0.7

// similar is Django's UserAttributeSimilarityValidator for one attribute:
// the lower-cased password is too similar to the value, or to one of its
// parts between non-word characters, when difflib's quick_ratio reaches
// maxSimilarity. A part much shorter than the password is skipped, as
// Django's exceeds_maximum_length_ratio does.
func similar(password, value string) bool {
	pw := strings.ToLower(password)
	value = strings.ToLower(value)
	parts := append(strings.FieldsFunc(value, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_'
	}), value)
	pwLen := utf8.RuneCountInString(pw)
	for _, part := range parts {
		n := utf8.RuneCountInString(part)
		if pwLen >= 10*n && float64(n) < maxSimilarity/2*float64(pwLen) {
			continue
		}
		if quickRatio(pw, part) >= maxSimilarity {
			return true
		}
	}
	return false
}

// quickRatio is Python's difflib.SequenceMatcher.quick_ratio: twice the
// characters a and b have in common (as multisets), over their total length.
func quickRatio(a, b string) float64 {
	avail := map[rune]int{}
	for _, r := range b {
		avail[r]++
	}
	matches := 0
	for _, r := range a {
		if avail[r] > 0 {
			avail[r]--
			matches++
		}
	}
	total := utf8.RuneCountInString(a) + utf8.RuneCountInString(b)
	if total == 0 {
		return 1
	}
	return 2 * float64(matches) / float64(total)
}

// commonPasswords are the most common passwords of 8 characters or more
// in the leaked lists Django's CommonPasswordValidator draws on (its own
// list has 20,000; shorter ones fail the length check anyway). Compared
// lower-cased, as Django does. Built at the first check, not in every
// process's package init (a worker's start waits for that).
var commonPasswords = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, p := range strings.Fields(`
		password password1 password12 password123 passw0rd p@ssw0rd p@ssword
		iloveyou iloveyou1 sunshine sunshine1 princess princess1 football
		football1 baseball baseball1 welcome1 welcome123 qwertyuiop qwerty123
		qwerty12 1q2w3e4r 1q2w3e4r5t 1qaz2wsx zaq12wsx zaq1zaq1 trustno1
		superman starwars whatever computer michelle corvette jennifer
		mercedes letmein1 abcd1234 abc12345 charlie1 liverpool chocolate
		master123 monkey123 dragon123 shadow123 jordan23 michael1 butterfly
		basketball babygirl1 iloveyou2 loveyou1 lovely123 12qwaszx asdfghjkl
		asdf1234 1234qwer qwer1234 q1w2e3r4 q1w2e3r4t5 passpass changeme
		administrator admin123 admin1234 rootroot internet maverick
		pokemon1 pussycat samantha fuckyou1 hello123 hellohello
		testtest test1234 11111111 sunflower elephant
	`) {
		m[p] = true
	}
	return m
})
