// Command berth-site is the web server inside the static-site images Berth
// builds (the built-in runtime): the standard library only, a few MB, so
// a site image is the site plus this binary. Berth finds it next to its
// own executable (or at --site-server).
package main

import (
	"fmt"
	"os"

	"github.com/berthops/berth/sources/static/site"
)

func main() {
	if err := site.Main(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "berth-site:", err)
		os.Exit(1)
	}
}
