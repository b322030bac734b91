package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/berthops/berth/router"
)

// acmeFlags point automatic HTTPS at an ACME CA other than Let's Encrypt
// (a private one, step-ca, pebble in tests): for the embedded proxy and
// `berth proxy`.
type acmeFlags struct {
	ca, root, email string
	renew           time.Duration
}

func (a *acmeFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&a.ca, "acme-ca", "", "ACME directory URL for automatic HTTPS (default: Let's Encrypt, then ZeroSSL)")
	fs.StringVar(&a.root, "acme-ca-root", "", "PEM file of the root that signs the --acme-ca server's own TLS certificate (a private CA)")
	fs.StringVar(&a.email, "acme-email", "", "contact email for the ACME account")
	fs.DurationVar(&a.renew, "acme-renew-interval", 0, "how often certificates are checked for renewal (default Caddy's 10m; less for short-lived certificates)")
}

func (a *acmeFlags) options() router.ACMEOptions {
	o := router.ACMEOptions{CA: a.ca, Email: a.email, RenewInterval: a.renew}
	if a.root != "" {
		o.Roots = []string{a.root}
	}
	return o
}
