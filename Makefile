# Everyday commands; CI runs .ci/run.
GO ?= go

.PHONY: build test race lint bench demo

build:
	$(GO) build -o sluice ./cmd/sluice

test:
	$(GO) test ./...

race:
	$(GO) test -race -count=1 ./...

lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)

bench:
	$(GO) test -run XXX -bench . -benchmem ./engine/runner/ ./engine/store/sqlite/

demo:
	$(GO) run ./cmd/sluice demo
