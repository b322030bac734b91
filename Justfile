# Berth's tasks. `just` comes from npm: npm install -g rust-just

# Build berth and berth-site (the server inside static-site images) into
# bin/, as shipped (the flags and why: scripts/build).
build:
    scripts/build bin

# The whole test suite on real parts (starts Docker when missing).
test:
    scripts/test

# Formatting, vet, and golangci-lint when it is installed.
lint:
    test -z "$(gofmt -l $(git ls-files '*.go'))"
    go vet ./...
    if command -v golangci-lint >/dev/null; then golangci-lint run; fi

# Run the agent on the example config repo (offline).
demo:
    scripts/demo

# Benchmarks: they print figures, they assert no timings.
bench:
    scripts/docker
    go test -run '^$' -bench . -benchtime 20x ./bench/

# The agent image (packaging/Dockerfile, FROM scratch) as berth/agent:dev.
image:
    scripts/docker
    scripts/image
