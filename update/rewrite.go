package update

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// ImageLine finds source.image in a workload file: its value and where
// it is (1-based line and column).
func ImageLine(src []byte) (value string, line, col int, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return "", 0, 0, err
	}
	if len(doc.Content) == 0 {
		return "", 0, 0, errors.New("the file is empty")
	}
	n := lookup(doc.Content[0], "source", "image")
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", 0, 0, errors.New("the file has no source.image")
	}
	return n.Value, n.Line, n.Column, nil
}

func lookup(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// RewriteImage changes the value of source.image to ref and nothing else:
// the other bytes of the file — comments, order, quoting, formatting — stay
// as they are.
func RewriteImage(src []byte, ref string) ([]byte, error) {
	value, line, col, err := ImageLine(src)
	if err != nil {
		return nil, err
	}
	return replaceAt(src, line, col, value, ref)
}

// replaceAt swaps the scalar value written at line:col (plain or quoted)
// for next, in the same style.
func replaceAt(src []byte, line, col int, value, next string) ([]byte, error) {
	lines := bytes.SplitAfter(src, []byte("\n"))
	if line < 1 || line > len(lines) {
		return nil, fmt.Errorf("line %d is not in the file", line)
	}
	l := lines[line-1]
	start := col - 1
	if start < 0 || start >= len(l) {
		return nil, fmt.Errorf("line %d has no column %d", line, col)
	}
	raw := value
	if q := l[start]; q == '"' || q == '\'' {
		raw = string(q) + value + string(q)
		next = string(q) + next + string(q)
	}
	if !bytes.HasPrefix(l[start:], []byte(raw)) {
		return nil, fmt.Errorf("line %d: the value is not written plainly (%q); edit it by hand", line, value)
	}
	var out bytes.Buffer
	for i, b := range lines {
		if i == line-1 {
			out.Write(l[:start])
			out.WriteString(next)
			out.Write(l[start+len(raw):])
			continue
		}
		out.Write(b)
	}
	return out.Bytes(), nil
}

// FromLine finds the base image of a Dockerfile's stage (the final one
// when stage is ""): its value, 1-based line and column.
func FromLine(dockerfile []byte, stage string) (value string, line, col int, err error) {
	found := false
	for i, l := range strings.Split(string(dockerfile), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || !strings.EqualFold(f[0], "FROM") {
			continue
		}
		img := 1
		for img < len(f) && strings.HasPrefix(f[img], "--") {
			img++
		}
		if img >= len(f) {
			continue
		}
		name := ""
		if img+2 < len(f) && strings.EqualFold(f[img+1], "AS") {
			name = f[img+2]
		}
		if stage != "" && !strings.EqualFold(name, stage) {
			continue
		}
		value, line, col, found = f[img], i+1, strings.Index(l, f[img])+1, true
		if stage != "" {
			break
		}
	}
	switch {
	case !found && stage != "":
		return "", 0, 0, fmt.Errorf("the Dockerfile has no stage %q", stage)
	case !found:
		return "", 0, 0, errors.New("the Dockerfile has no FROM line")
	case strings.Contains(value, "$"):
		return "", 0, 0, fmt.Errorf("line %d: FROM %s uses a build arg; Berth cannot follow it", line, value)
	}
	return value, line, col, nil
}

// RewriteFrom changes the base image of a Dockerfile's stage to ref and
// nothing else.
func RewriteFrom(dockerfile []byte, stage, ref string) ([]byte, error) {
	value, line, col, err := FromLine(dockerfile, stage)
	if err != nil {
		return nil, err
	}
	return replaceAt(dockerfile, line, col, value, ref)
}
