# The two commands a newcomer needs are "make run" and "make test"; the README
# gives their plain "go" equivalents too.
GO ?= go

.PHONY: run test check build
run:
	$(GO) run ./cmd/madoguchi serve

test:
	$(GO) test ./...

check:
	bash .ci/run

build:
	CGO_ENABLED=0 $(GO) build -o bin/madoguchi ./cmd/madoguchi
