package gitops

import (
	"fmt"
)

// ConfigError is a problem in the config repo that a person must fix: it
// names the file, the line and column, and the field.
type ConfigError struct {
	File  string // relative to the config root
	Line  int
	Col   int
	Field string // dotted path, e.g. "source.deploy_strategy"; may be empty
	Msg   string
}

func (e *ConfigError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Col)
	}
	if e.Field == "" {
		return loc + ": " + e.Msg
	}
	return loc + ": " + e.Field + ": " + e.Msg
}
