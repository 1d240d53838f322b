# The two commands a newcomer needs are "make run" and "make test"; the README
# gives their plain "go" equivalents too.
GO ?= go

.PHONY: run test check build build-pkcs11
run:
	$(GO) run ./cmd/madoguchi serve

test:
	$(GO) test ./...

check:
	bash .ci/run

build:
	CGO_ENABLED=0 $(GO) build -o bin/madoguchi ./cmd/madoguchi

# build-pkcs11: the same binary with cgo, which keys held in an HSM
# (PKCS#11 modules are C libraries) need; docs/operations.md#hsm.
build-pkcs11:
	CGO_ENABLED=1 $(GO) build -o bin/madoguchi ./cmd/madoguchi
