package update_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/update"
)

func TestRewriteImageChangesOnlyTheValue(t *testing.T) {
	for name, c := range map[string]struct{ in, want string }{
		"plain": {
			"# the shop's web\nsource:\n  type: image   # pulled\n  image: reg.example.com/shop/web:1.4.2  # pinned\nport: 8080\n",
			"# the shop's web\nsource:\n  type: image   # pulled\n  image: reg.example.com/shop/web:1.4.3  # pinned\nport: 8080\n",
		},
		"double quoted, key order": {
			"port: 8080\nsource:\n  image: \"reg.example.com/shop/web:1.4.2\"\n  type: image\n",
			"port: 8080\nsource:\n  image: \"reg.example.com/shop/web:1.4.3\"\n  type: image\n",
		},
		"flow mapping": {
			"source: {type: image, image: reg.example.com/shop/web:1.4.2, pull: always}\n",
			"source: {type: image, image: reg.example.com/shop/web:1.4.3, pull: always}\n",
		},
		"no newline at the end, CRLF": {
			"source:\r\n  image: 'reg.example.com/shop/web:1.4.2'\r\n  type: image",
			"source:\r\n  image: 'reg.example.com/shop/web:1.4.3'\r\n  type: image",
		},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := update.RewriteImage([]byte(c.in), "reg.example.com/shop/web:1.4.3")
			require.NoError(t, err)
			assert.Equal(t, c.want, string(out))
		})
	}
	_, err := update.RewriteImage([]byte("source:\n  type: image\n  image: >-\n    reg/web:1\n"), "reg/web:2")
	assert.ErrorContains(t, err, "edit it by hand")
	_, err = update.RewriteImage([]byte("source:\n  type: static\n"), "reg/web:2")
	assert.ErrorContains(t, err, "no source.image")
}

func TestRewriteFrom(t *testing.T) {
	df := "# syntax=docker/dockerfile:1\nFROM golang:1.22 AS build\nRUN go build\n\nfrom --platform=linux/amd64 reg.example.com/base:1.0 as final\nCOPY --from=build /app /app\n"
	out, err := update.RewriteFrom([]byte(df), "", "reg.example.com/base:1.1")
	require.NoError(t, err)
	assert.Equal(t, "# syntax=docker/dockerfile:1\nFROM golang:1.22 AS build\nRUN go build\n\nfrom --platform=linux/amd64 reg.example.com/base:1.1 as final\nCOPY --from=build /app /app\n", string(out))
	out, err = update.RewriteFrom([]byte(df), "build", "golang:1.23")
	require.NoError(t, err)
	assert.Contains(t, string(out), "FROM golang:1.23 AS build\n")
	_, err = update.RewriteFrom([]byte(df), "nope", "x:1")
	assert.ErrorContains(t, err, `no stage "nope"`)
	_, err = update.RewriteFrom([]byte("ARG V=1\nFROM base:${V}\n"), "", "base:2")
	assert.ErrorContains(t, err, "build arg")
}
