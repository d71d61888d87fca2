package framework

import "github.com/stack-web/stack/framework/internal/urlpath"

// Converter turns one captured piece of a URL into a typed value and back,
// as a Django path converter does (see Django's register_converter). Custom
// converters are registered by name in [Config].Converters and used as
// <name:param> in patterns.
//
// Match plays the role of the converter's regex: it reports whether s, the
// whole captured text (percent-decoded, never empty unless the converter
// accepts it), belongs to the converter. It runs on every request that gets
// this far into the pattern, so it should be a simple scan, not a regexp.
// Unless the converter also implements [SegmentConverter], Match may be
// offered text containing "/".
//
// ToValue converts matched text to the value the view receives. An error
// means "no match": dispatch goes on to the next pattern, as a ValueError in
// Django's to_python does.
//
// ToURL converts a value given to Reverse into URL text (not yet
// percent-encoded). An error, or text that Match rejects, makes Reverse fail
// with ErrNoReverseMatch.
type Converter = urlpath.Converter

// SegmentConverter is a Converter that never matches a "/": dispatch then
// only offers it one path segment, which makes matching cheaper. Every
// built-in converter except path is one.
type SegmentConverter = urlpath.SegmentConverter
