package image_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/berthops/berth/sources/image"
)

func TestPullPolicy(t *testing.T) {
	tests := []struct {
		name, image, pull, want string
	}{
		{"untagged", "nginx", "", image.PullAlways},
		{"latest", "nginx:latest", "", image.PullAlways},
		{"pinned tag", "nginx:1.27", "", image.PullIfNotPresent},
		{"digest", "nginx@sha256:0123456789012345678901234567890123456789012345678901234567890123", "", image.PullIfNotPresent},
		{"registry with port", "127.0.0.1:5000/shop/web:2", "", image.PullIfNotPresent},
		{"explicit always", "nginx:1.27", "always", image.PullAlways},
		{"explicit if-not-present", "nginx", "if-not-present", image.PullIfNotPresent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &image.Config{Image: tc.image, Pull: tc.pull}
			assert.Empty(t, c.Validate())
			assert.Equal(t, tc.want, c.PullPolicy())
		})
	}
	assert.Equal(t, "docker.io/library/nginx:latest", (&image.Config{Image: "nginx"}).Ref())
	assert.NotEmpty(t, (&image.Config{Image: "Not A Ref"}).Validate())
	assert.NotEmpty(t, (&image.Config{Image: "nginx", Pull: "never"}).Validate())
}
