# Berth's tasks. `just` comes from npm: npm install -g rust-just

# Build the berth binary into bin/.
build:
    CGO_ENABLED=0 go build -o bin/berth ./cmd/berth

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
