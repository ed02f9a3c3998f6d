# EpicShare — run `make` for the list of targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
BIN       := bin
FUZZTIME  ?= 5000x
BENCHCOUNT ?= 3
FYNE_TOOLS ?= v1.7.4

# Debian packages that build the app and run every test (../shared/TESTING.md).
DEB_PKGS := gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev \
	libxinerama-dev libxi-dev libxxf86vm-dev libwayland-dev libxkbcommon-dev \
	xvfb xauth imagemagick xdotool zbar-tools chromium firefox-esr nodejs iproute2 nftables

.PHONY: help deps build run test fuzz bench lint screenshots package clean

help: ## show this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

deps: ## install the Debian packages the build and tests need (as root), else print the command
	@missing=$$(dpkg-query -W -f='$${Package} $${Status}\n' $(DEB_PKGS) 2>/dev/null | awk '$$NF=="installed"{print $$1}' | sort | comm -13 - <(tr ' ' '\n' <<<"$(DEB_PKGS)" | sort)); \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "deps: installing $$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	else \
		echo "deps: run as root: apt-get update && apt-get install -y --no-install-recommends $$missing"; exit 1; \
	fi

build: ## build bin/epicshare and bin/signal-server
	$(GO) build -o $(BIN)/epicshare .
	$(GO) build -o $(BIN)/signal-server ./signal-server

run: deps build ## start the app (the window; it runs its own signaling server on the LAN)
	$(BIN)/epicshare

test: deps ## run every test with -race, then each fuzz target briefly
	$(GO) vet ./...
	$(GO) test -race -count=1 -parallel 8 -timeout 20m ./...
	$(MAKE) --no-print-directory fuzz

fuzz: ## run each fuzz target for FUZZTIME executions (default 5000x; a count, not a duration: see go.dev/issue/75804)
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$f"; \
			out=$$($(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg 2>&1) || { echo "$$out"; exit 1; }; \
		done; \
	done

bench: deps build ## 1 GiB and 4 GiB transfers vs raw TCP and plain Pion, on loopback and across two pinned hosts, first byte, broker alone and as three nodes through NATS (10,000 idle peers, same- vs cross-node latency), browsers both ways, across NATs direct and through the built-in TURN, bad links; write bench/results.md
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchtime 1x -count $(BENCHCOUNT) -timeout 60m ./internal/e2e | tee bench.out
	$(GO) run ./tools/benchtable < bench.out > bench/results.md
	cat bench/levers.md >> bench/results.md
	@echo "wrote bench/results.md"

screenshots: deps build ## run the real app under Xvfb: a share between two windows, a push into the receive link, a send to a nearby window, the pages; write docs/*.png (root)
	scripts/screenshots.sh

package: deps ## build a Linux desktop package (tar.xz with icon and .desktop entry) with fyne package
	$(GO) run fyne.io/tools/cmd/fyne@$(FYNE_TOOLS) package -os linux -release
	@ls -l EpicShare.tar.xz

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

clean: ## remove build output
	rm -rf $(BIN) bench.out EpicShare.tar.xz
