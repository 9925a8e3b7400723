# codrive's developer and CI entry points. The set-up logic lives in scripts/
# so that `make setup` and .ci/run run one implementation.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
GO ?= go
# Bounded: each benchmark runs about BENCHTIME, the whole run at most 9m.
BENCHTIME ?= 1s
# Flags for the side-by-side run of the real binaries (go run ./bench/proxy -h).
PROXYBENCH ?=
# Flags for the person's handoff on real neko (go run ./bench/person -h).
PERSONBENCH ?=
# Flags for codrive fleet's idle CPU with 100 fake rooms (go run ./bench/fleet -h).
FLEETBENCH ?=
# make image: the tag, and the tool that builds it (docker, or podman).
IMAGE ?= codrive:dev
DOCKER ?= docker

.PHONY: build test test-nekotest test-neko bench lint setup driver neko demo image

## demo: set up, then show codrive on this machine alone (README: make demo)
demo: setup
	$(GO) run ./cmd/codrive demo

## build: compile every package, and the commands into bin/
build:
	$(GO) build ./...
	@# -buildvcs=auto: codrive version reports the commit even where GOFLAGS turns stamping off.
	@if [ -d cmd ]; then mkdir -p bin && $(GO) build -buildvcs=auto -o bin/ ./cmd/... && echo "binaries in bin/: $$(ls bin | tr '\n' ' ')"; fi

## image: codrive's container image from the Dockerfile, tagged $(IMAGE); no
## registry needed (README: Deploy). Push it yourself: docker push $(IMAGE)
image:
	@command -v $(DOCKER) >/dev/null || { echo "make image: $(DOCKER) not found; install Docker or run make image DOCKER=podman"; exit 1; }
	$(DOCKER) build -t $(IMAGE) .

## test: the whole suite, against real Chromium (README: make test)
test:
	$(GO) test -race -count=1 -timeout 9m ./...

## test-nekotest, test-neko: only the end-to-end scenarios (e2e/), on one server
test-nekotest:
	CODRIVE_NEKO_SERVERS=nekotest $(GO) test -race -count=1 -timeout 9m ./e2e ./internal/nekoserver
test-neko: neko
	CODRIVE_NEKO_SERVERS=neko $(GO) test -race -count=1 -timeout 9m ./e2e ./internal/nekoserver

## bench: every benchmark once, time-boxed; then the real codrive attach --listen
## against a direct connection, a byte relay and cdpproxy alone (bench/proxy);
## then a handoff as a person's WebRTC viewer experiences it, codrive beside
## neko alone, on real neko (bench/person; one line and skipped without it);
## then codrive fleet's CPU while 100 fake rooms are idle (bench/fleet)
bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -timeout 9m ./...
	$(GO) run ./bench/proxy $(PROXYBENCH)
	$(GO) run ./bench/person $(PERSONBENCH)
	$(GO) run ./bench/fleet $(FLEETBENCH)

## lint: gofmt must have nothing to say, and go vet must pass
lint:
	@unformatted="$$(gofmt -l $$(find . -name '*.go' -not -path './.cache/*' -not -path './node_modules/*'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt -l: not formatted:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## setup: Debian chromium (+ tmux, docker-compose) and the Playwright driver
setup:
	bash scripts/setup.sh

## neko: build the real neko v3.1.5 server into .cache/neko (README: Tests)
neko:
	bash scripts/build-neko.sh

## driver: only the Playwright driver for playwright-go (into .cache/)
driver:
	bash scripts/install-playwright-driver.sh
