package gitops

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Pos is a line and column in a config file, 1-based.
type Pos struct {
	Line, Col int
}

// decoder decodes YAML nodes into structs strictly: an unknown key, a wrong
// type or a malformed value becomes a ConfigError naming the file, the
// position and the dotted field path. It keeps decoding after an error so
// one pass lists every problem, and it records where each field's value
// sits so later semantic checks can point at it too.
type decoder struct {
	file string
	pos  map[string]Pos
	errs []error
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, pos: map[string]Pos{}}
}

func (d *decoder) errorf(field string, p Pos, format string, args ...any) {
	d.errs = append(d.errs, &ConfigError{File: d.file, Line: p.Line, Col: p.Col, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// at returns the recorded position of a field, falling back to its closest
// recorded parent and then to the top of the file.
func (d *decoder) at(field string) Pos {
	for f := field; f != ""; {
		if p, ok := d.pos[f]; ok {
			return p
		}
		i := strings.LastIndexByte(f, '.')
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return Pos{Line: 1, Col: 1}
}

var (
	unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	nodeType        = reflect.TypeOf(yaml.Node{})
)

func nodePos(n *yaml.Node) Pos { return Pos{Line: n.Line, Col: n.Column} }

// decode fills out (addressable) from n; field is n's dotted path.
func (d *decoder) decode(field string, n *yaml.Node, out reflect.Value) {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		d.errorf(field, nodePos(n), "YAML aliases are not supported")
		return
	}
	d.pos[field] = nodePos(n)
	t := out.Type()
	switch {
	case t == nodeType:
		out.Set(reflect.ValueOf(*n))
		return
	case reflect.PointerTo(t).Implements(unmarshalerType):
		d.leaf(field, n, out)
		return
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct && !reflect.PointerTo(t.Elem()).Implements(unmarshalerType):
		if isNull(n) {
			return
		}
		v := reflect.New(t.Elem())
		d.decode(field, n, v.Elem())
		out.Set(v)
		return
	case t.Kind() == reflect.Struct:
		d.structure(field, n, out)
		return
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		d.mapping(field, n, out)
		return
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		d.sequence(field, n, out)
		return
	}
	d.leaf(field, n, out)
}

// sequence decodes a list of structures item by item, each strictly and
// with its own position (field.0, field.1, ...).
func (d *decoder) sequence(field string, n *yaml.Node, out reflect.Value) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(field, nodePos(n), "expected a list, got %s", describe(n))
		return
	}
	list := reflect.MakeSlice(out.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(fmt.Sprintf("%s.%d", field, i), item, list.Index(i))
	}
	out.Set(list)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func (d *decoder) structure(field string, n *yaml.Node, out reflect.Value) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(field, nodePos(n), "expected a mapping, got %s", describe(n))
		return
	}
	fields := yamlFields(out.Type())
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	seen := map[string]Pos{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		child := join(field, k.Value)
		if d.duplicate(child, k, seen) {
			continue
		}
		idx, ok := fields[k.Value]
		if !ok {
			d.errorf(child, nodePos(k), "unknown field (valid fields: %s)", strings.Join(names, ", "))
			continue
		}
		d.decode(child, v, out.FieldByIndex(idx))
	}
}

// yamlFields maps a struct's YAML keys to field indexes, flattening
// `,inline` fields and leaving out `-` and untagged ones.
func yamlFields(t reflect.Type) map[string][]int {
	fields := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if opts == "inline" && f.Type.Kind() == reflect.Struct {
			for k, idx := range yamlFields(f.Type) {
				fields[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		fields[name] = []int{i}
	}
	return fields
}

func (d *decoder) mapping(field string, n *yaml.Node, out reflect.Value) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(field, nodePos(n), "expected a mapping, got %s", describe(n))
		return
	}
	m := reflect.MakeMapWithSize(out.Type(), len(n.Content)/2)
	seen := map[string]Pos{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		child := join(field, k.Value)
		if d.duplicate(child, k, seen) {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(field, nodePos(k), "keys must be strings")
			continue
		}
		d.pos[child] = nodePos(v)
		elem := reflect.New(out.Type().Elem()).Elem()
		if elem.Kind() == reflect.Struct {
			// A value with a short form (a volume's path) or a long one.
			switch ss, ok := elem.Addr().Interface().(scalarSetter); {
			case v.Kind == yaml.ScalarNode && ok:
				ss.SetScalar(v.Value)
			default:
				d.structure(child, v, elem)
			}
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(out.Type().Key()), elem)
			continue
		}
		if v.Kind != yaml.ScalarNode {
			d.errorf(child, nodePos(v), "expected a scalar value, got %s", describe(v))
			continue
		}
		d.leaf(child, v, elem)
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(out.Type().Key()), elem)
	}
	out.Set(m)
}

// leaf decodes a scalar or sequence with yaml.v3 and rewrites its error.
func (d *decoder) leaf(field string, n *yaml.Node, out reflect.Value) {
	if out.Kind() == reflect.String && n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		out.SetString(n.Value) // any scalar reads as a string: PORT: 8080, DEBUG: true
		return
	}
	if err := n.Decode(out.Addr().Interface()); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			d.errorf(field, nodePos(n), "expected %s, got %s", describeType(out.Type()), describe(n))
			return
		}
		d.errorf(field, nodePos(n), "%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
}

// duplicate reports (and records as an error) a key set twice in one
// mapping: a reviewer reads one value, the program would use the other.
func (d *decoder) duplicate(field string, k *yaml.Node, seen map[string]Pos) bool {
	if first, dup := seen[k.Value]; dup {
		d.errorf(field, nodePos(k), "is set twice (first at line %d): keep one", first.Line)
		return true
	}
	seen[k.Value] = nodePos(k)
	return false
}

func join(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.Tag {
	case "!!str":
		return fmt.Sprintf("string %q", n.Value)
	case "!!int":
		return "number " + n.Value
	case "!!float":
		return "number " + n.Value
	case "!!bool":
		return "boolean " + n.Value
	case "!!null":
		return "null"
	}
	return fmt.Sprintf("%q", n.Value)
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint16, reflect.Uint32:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(describeType(t.Elem()), "a ")
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

// reflectOf returns the addressable value a pointer points to.
func reflectOf(ptr any) reflect.Value { return reflect.ValueOf(ptr).Elem() }

// scalarSetter is a structure with a short form: a scalar sets its main
// field (a volume's path).
type scalarSetter interface{ SetScalar(string) }
