// Package secretfile reads the one-line secrets Berth takes from files
// (tokens, passwords, webhook secrets): never from flags, where they would
// show in the process list and shell history.
package secretfile

import (
	"fmt"
	"os"
	"strings"
)

// Read returns the file's content without surrounding white space. An
// empty file is an error: it would silently turn authentication off.
func Read(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return v, nil
}
