package sources

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Resources are a container's limits: resources: {memory: 512Mi, cpus:
// 0.5, pids: 256}. Unset fields are unlimited.
type Resources struct {
	Memory ByteSize `yaml:"memory" json:"memory,omitempty"`
	CPUs   float64  `yaml:"cpus" json:"cpus,omitempty"`
	Pids   int64    `yaml:"pids" json:"pids,omitempty"`
}

// MinMemory is Docker's smallest memory limit.
const MinMemory = 6 << 20

// Validate checks the limits; field is where they are written.
func (r *Resources) Validate(field string) []FieldError {
	if r == nil {
		return nil
	}
	var errs []FieldError
	if r.Memory != 0 && r.Memory < MinMemory {
		errs = append(errs, FieldError{Field: field + ".memory", Msg: fmt.Sprintf("%s is below Docker's minimum, 6Mi", r.Memory)})
	}
	if r.CPUs < 0 || r.CPUs > 1024 || math.IsNaN(r.CPUs) {
		errs = append(errs, FieldError{Field: field + ".cpus", Msg: fmt.Sprintf("%v is not a number of CPUs such as 0.5 or 2", r.CPUs)})
	} else if r.CPUs != 0 && r.CPUs < 0.01 {
		errs = append(errs, FieldError{Field: field + ".cpus", Msg: fmt.Sprintf("%v is below the smallest share, 0.01", r.CPUs)})
	}
	if r.Pids < 0 {
		errs = append(errs, FieldError{Field: field + ".pids", Msg: fmt.Sprintf("%d is negative", r.Pids)})
	} else if r.Pids != 0 && r.Pids < 8 {
		errs = append(errs, FieldError{Field: field + ".pids", Msg: fmt.Sprintf("%d processes is too few to start most programs (at least 8)", r.Pids)})
	}
	return errs
}

// ByteSize is a size in bytes, written as 512Mi, 1Gi, 500M or 1048576.
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
}

// ParseByteSize reads 512Mi, 1.5Gi, 500M or a plain number of bytes.
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	num, mult := s, int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || f*float64(mult) > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a size such as 512Mi, 1Gi or 500M", s)
	}
	return ByteSize(f * float64(mult)), nil
}

// UnmarshalYAML reads a size.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("expected a size such as 512Mi")
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// String writes the size in the largest binary unit that divides it.
func (b ByteSize) String() string {
	for _, u := range []struct {
		s string
		m int64
	}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if int64(b) >= u.m && int64(b)%u.m == 0 {
			return fmt.Sprintf("%d%s", int64(b)/u.m, u.s)
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// Human is the size for people: 512 MiB, 1.5 GiB.
func (b ByteSize) Human() string {
	f := float64(b)
	for _, u := range []string{"B", "KiB", "MiB", "GiB", "TiB"} {
		if f < 1024 || u == "TiB" {
			if u == "B" {
				return fmt.Sprintf("%d B", int64(b))
			}
			return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", f), "0"), ".") + " " + u
		}
		f /= 1024
	}
	return ""
}
