package gitops_test

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/sources"
)

// nonZero builds a value of type t that differs from its zero value in
// every exported field.
func nonZero(t reflect.Type) reflect.Value {
	v := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(7)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		v.Set(reflect.Append(v, nonZero(t.Elem())))
	case reflect.Map:
		v.Set(reflect.MakeMap(t))
		v.SetMapIndex(nonZero(t.Key()), nonZero(t.Elem()))
	case reflect.Pointer:
		v.Set(reflect.New(t.Elem()))
		v.Elem().Set(nonZero(t.Elem()))
	case reflect.Struct:
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				v.Field(i).Set(nonZero(t.Field(i).Type))
			}
		}
	}
	return v
}

// TestEveryFieldIsHashedAndPlanned: a workload's fields are listed once
// (sources.Spec and each kind's config). Setting any one of them must move
// the desired hash (or the change would never redeploy) and show in the
// plan (or a reviewer would not see it).
func TestEveryFieldIsHashedAndPlanned(t *testing.T) {
	fresh := func(kind sources.Kind) *sources.Workload {
		c, err := gitops.NewConfig(kind)
		require.NoError(t, err)
		return &sources.Workload{App: "a", Name: "w", Spec: sources.Spec{Source: c}}
	}
	check := func(t *testing.T, base, changed *sources.Workload) {
		t.Helper()
		assert.NotEqual(t, gitops.Hash(base), gitops.Hash(changed), "the field is not hashed")
		assert.NotEmpty(t, gitops.ChangedFields(gitops.Fields(base, false), gitops.Fields(changed, false)), "the field is not planned")
	}
	spec := reflect.TypeOf(sources.Spec{})
	for i := range spec.NumField() {
		f := spec.Field(i)
		if f.Name == "Source" {
			continue // its fields are checked per kind below
		}
		t.Run("spec/"+f.Name, func(t *testing.T) {
			base, changed := fresh(sources.KindImage), fresh(sources.KindImage)
			reflect.ValueOf(&changed.Spec).Elem().Field(i).Set(nonZero(f.Type))
			check(t, base, changed)
		})
	}
	for _, kind := range sources.Kinds {
		c, err := gitops.NewConfig(kind)
		require.NoError(t, err)
		ct := reflect.TypeOf(c).Elem()
		for i := range ct.NumField() {
			f := ct.Field(i)
			if !f.IsExported() {
				continue // resolved paths: their content is hashed instead
			}
			t.Run(string(kind)+"/"+f.Name, func(t *testing.T) {
				base, changed := fresh(kind), fresh(kind)
				reflect.ValueOf(changed.Source).Elem().Field(i).Set(nonZero(f.Type))
				if f.Name == "Update" {
					// DESIGN.md §10: what does not change the container
					// stays out of its hash; editing it restarts nothing.
					assert.Equal(t, gitops.Hash(base), gitops.Hash(changed), "source.update must not be hashed")
					return
				}
				check(t, base, changed)
			})
		}
	}
}

func TestReleaseRoundTrip(t *testing.T) {
	d, err := gitops.Load(writeTree(t, map[string]string{
		"apps/shop/web.yaml":   "source:\n  type: image\n  image: nginx:1.27\n  deploy_strategy: recreate\nenv:\n  A: \"1\"\nport: 80\nroute:\n  hosts: [shop.test]\nvolumes:\n  data: /data\n",
		"apps/shop/site.yaml":  "source:\n  type: static\n  dir: public\n  spa: true\n",
		"apps/shop/public/a.j": "x",
	}), "")
	require.NoError(t, err)
	require.Empty(t, d.AllErrors())
	for _, w := range d.Workloads {
		b, err := gitops.EncodeWorkload(w)
		require.NoError(t, err)
		back, err := gitops.DecodeWorkload(b)
		require.NoError(t, err)
		assert.Equal(t, w.ID(), back.ID())
		assert.Equal(t, w.Hash, gitops.Hash(back), "the decoded workload hashes the same: a release is what was deployed")
		assert.Equal(t, gitops.Fields(w, true), gitops.Fields(back, true))
	}
}
