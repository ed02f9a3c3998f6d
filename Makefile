# EpicShare — run `make` for the list of targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
BIN       := bin
FUZZTIME  ?= 5000x
BENCHCOUNT ?= 3
FYNE_TOOLS ?= v1.7.4
DIST      := dist

# The version both binaries print for --version: the tag vX.Y.Z at HEAD
# (without its v), else FyneApp.toml's Version; `make release VERSION=...`
# overrides it.
ifneq ($(origin VERSION),command line)
VERSION := $(shell git tag --points-at HEAD 2>/dev/null | grep -E '^v[0-9]+\.[0-9]+\.[0-9]+$$' | sort -V | tail -1 | sed 's/^v//' | grep . || \
	sed -n 's/^Version *= *"\(.*\)"/\1/p' FyneApp.toml)
endif
VERSION_LDFLAGS := -X github.com/epicshare/epicshare/internal/version.version=$(VERSION)
# A recipe line that fails unless VERSION can name a file and a Debian version.
check-version = @[[ '$(VERSION)' =~ ^[0-9][0-9A-Za-z.+~-]*$$ ]] || { echo "$@: bad VERSION '$(VERSION)': want e.g. 0.1.0"; exit 1; }
# signal-server's release targets, GOOS/GOARCH.
SERVER_TARGETS := linux/amd64 linux/arm64 windows/amd64 darwin/amd64 darwin/arm64
SERVER_DIR ?= $(DIST)

# Debian packages that build the app and run every test (../shared/TESTING.md).
DEB_PKGS := gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev \
	libxinerama-dev libxi-dev libxxf86vm-dev libwayland-dev libxkbcommon-dev \
	xvfb xauth imagemagick xdotool zbar-tools chromium firefox-esr nodejs iproute2 nftables
# Only `make release` needs these (the Windows desktop build's cross compiler).
RELEASE_DEB_PKGS := gcc-mingw-w64-x86-64
MINGW_CC := x86_64-w64-mingw32-gcc

# $(call apt-install,TARGET,PACKAGES): install the missing Debian PACKAGES
# as root, else print the command and fail.
define apt-install
@missing=$$(dpkg-query -W -f='$${Package} $${Status}\n' $(2) 2>/dev/null | awk '$$NF=="installed"{print $$1}' | sort | comm -13 - <(tr ' ' '\n' <<<"$(2)" | sort)); \
if [ -z "$$missing" ]; then echo "$(1): all Debian packages present"; exit 0; fi; \
if [ "$$(id -u)" = 0 ]; then \
	echo "$(1): installing $$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
else \
	echo "$(1): run as root: apt-get update && apt-get install -y --no-install-recommends $$missing"; exit 1; \
fi
endef

.PHONY: help deps release-deps build run test release-check fuzz bench lint screenshots package servers release clean

help: ## show this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

deps: ## install the Debian packages the build and tests need (as root), else print the command
	$(call apt-install,deps,$(DEB_PKGS))

release-deps: ## install what make release needs besides deps, the mingw-w64 cross compiler (as root), else print the command
	$(call apt-install,release-deps,$(RELEASE_DEB_PKGS))
	@command -v $(MINGW_CC) >/dev/null || { echo "release-deps: $(MINGW_CC) is not on the PATH (Debian package $(RELEASE_DEB_PKGS))"; exit 1; }

build: ## build bin/epicshare and bin/signal-server, reporting VERSION for --version
	$(GO) build -ldflags '$(VERSION_LDFLAGS)' -o $(BIN)/epicshare .
	$(GO) build -ldflags '$(VERSION_LDFLAGS)' -o $(BIN)/signal-server ./signal-server

run: deps build ## start the app (the window; it runs its own signaling server on the LAN)
	$(BIN)/epicshare

# The release check runs beside the Go tests, niced: cold, its five cross
# builds take about 280 s of CPU, while the browser and bad-network tests
# spend minutes waiting on held links with cores to spare.
test: deps ## run every test with -race and, beside them, the release check; then each fuzz target briefly
	$(GO) vet ./...
	@log=$$(mktemp); nice -n 19 $(MAKE) --no-print-directory release-check >"$$log" 2>&1 & check=$$!; \
	$(GO) test -race -count=1 -parallel 8 -timeout 20m ./...; tests=$$?; \
	wait $$check; checked=$$?; cat "$$log"; rm -f "$$log"; \
	[ $$tests = 0 ] && [ $$checked = 0 ]
	$(MAKE) --no-print-directory fuzz

release-check: ## build the .deb from a plain build and dpkg -i it into a scratch root, cross-compile signal-server for SERVER_TARGETS; check both say VERSION
	$(check-version)
	@set -euo pipefail; start=$$SECONDS; tmp=$$(mktemp -d -t epicshare-release-check.XXXXXXXX); trap 'rm -rf "$$tmp"' EXIT; \
	says() { got=$$("$$1" --version) || { echo "release-check: $$1 --version failed"; exit 1; }; \
		[ "$$got" = "$$2" ] || { echo "release-check: $$1 --version printed '$$got', want '$$2'"; exit 1; }; }; \
	$(GO) build -ldflags '$(VERSION_LDFLAGS)' -o "$$tmp/epicshare" .; \
	DEB_COMPRESS=none packaging/deb.sh "$$tmp/epicshare" '$(VERSION)' "$$tmp/epicshare.deb"; \
	root=$$tmp/root; mkdir -p "$$root/var/lib/dpkg/info" "$$root/var/lib/dpkg/updates" "$$root/var/log"; : >"$$root/var/lib/dpkg/status"; \
	dpkg --root="$$root" --log="$$root/var/log/dpkg.log" --force-not-root --force-depends -i "$$tmp/epicshare.deb" >"$$tmp/dpkg.out" 2>&1 || \
		{ cat "$$tmp/dpkg.out"; echo "release-check: dpkg -i into $$root failed"; exit 1; }; \
	for f in usr/share/applications/io.github.epicshare.desktop usr/share/icons/hicolor/512x512/apps/io.github.epicshare.png; do \
		[ -s "$$root/$$f" ] || { echo "release-check: the .deb did not install /$$f"; exit 1; }; done; \
	says "$$root/usr/bin/epicshare" 'epicshare $(VERSION)'; \
	$(MAKE) --no-print-directory servers SERVER_DIR="$$tmp/servers"; \
	for t in $(filter linux/%,$(SERVER_TARGETS)); do f=$$tmp/servers/signal-server-$(VERSION)-linux-$${t#*/}; \
		[ -f "$$f" ] && ! readelf -lW "$$f" | grep -q INTERP || { echo "release-check: $$f is missing or not static"; exit 1; }; done; \
	says "$$tmp/servers/signal-server-$(VERSION)-linux-amd64" 'signal-server $(VERSION)'; \
	echo "release-check: the .deb installs and says $(VERSION), signal-server builds for $(SERVER_TARGETS) ($$((SECONDS - start)) s)"

fuzz: ## run each fuzz target for FUZZTIME executions (default 5000x; a count, not a duration: see go.dev/issue/75804)
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$f"; \
			out=$$($(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg 2>&1) || { echo "$$out"; exit 1; }; \
		done; \
	done

bench: deps build ## 1 GiB and 4 GiB transfers (QUIC between desktops, and the data channel alone) vs raw TCP and plain Pion, on loopback and across two pinned hosts, first byte, broker alone and as three nodes through NATS (10,000 idle peers, same- vs cross-node latency), browsers both ways, across NATs direct and through the built-in TURN, bad links; write bench/results.md
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchtime 1x -count $(BENCHCOUNT) -timeout 60m ./internal/e2e | tee bench.out
	$(GO) run ./tools/benchtable < bench.out > bench/results.md
	cat bench/levers.md >> bench/results.md
	@echo "wrote bench/results.md"

screenshots: deps build ## run the real app under Xvfb: a share between two windows, a push into the receive link, a send to a nearby window, the pages; write docs/*.png (root)
	scripts/screenshots.sh

package: deps ## build a Linux desktop package (tar.xz with icon and .desktop entry) with fyne package
	GO='$(GO)' FYNE_TOOLS=$(FYNE_TOOLS) packaging/fyne-package.sh linux '$(VERSION)' EpicShare.tar.xz
	@ls -l EpicShare.tar.xz

# One after the other: on two shared cores all five at once were no
# quicker, cold (286 s against 268 s) or warm (4.5 s against 4.9 s).
# -dwarf=false: -w drops the debug information at link time anyway, and
# not making it saves a sixth of a cold build's CPU.
servers: ## cross-compile signal-server for SERVER_TARGETS into SERVER_DIR (default dist/): static, -trimpath
	@set -uo pipefail; mkdir -p '$(SERVER_DIR)' || exit 1; failed=; \
	for t in $(SERVER_TARGETS); do \
		os=$${t%/*} arch=$${t#*/} ext=; [ "$$os" != windows ] || ext=.exe; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -gcflags=all=-dwarf=false -ldflags '-s -w $(VERSION_LDFLAGS)' \
			-o '$(SERVER_DIR)'/signal-server-'$(VERSION)'-$$os-$$arch$$ext ./signal-server || failed+=" $$t"; \
	done; \
	[ -z "$$failed" ] || { echo "servers: signal-server does not build for$$failed"; exit 1; }

release: deps release-deps ## write dist/: the desktop app for Linux amd64 (.tar.xz, .deb) and Windows amd64 (.exe), signal-server for SERVER_TARGETS, the systemd unit, the Containerfile, SHA256SUMS
	$(check-version)
	rm -rf $(DIST)
	$(MAKE) --no-print-directory servers SERVER_DIR=$(DIST)
	GO='$(GO)' FYNE_TOOLS=$(FYNE_TOOLS) packaging/fyne-package.sh linux '$(VERSION)' $(DIST)/epicshare-$(VERSION)-linux-amd64.tar.xz
	@set -euo pipefail; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	tar -xJf $(DIST)/epicshare-$(VERSION)-linux-amd64.tar.xz -C "$$tmp"; \
	bin=$$(find "$$tmp" -path '*/bin/epicshare' -type f); [ -n "$$bin" ] || { echo "release: no bin/epicshare in the .tar.xz"; exit 1; }; \
	packaging/deb.sh "$$bin" '$(VERSION)' $(DIST)/epicshare_$(VERSION)_amd64.deb
	CC=$(MINGW_CC) GOARCH=amd64 GO='$(GO)' FYNE_TOOLS=$(FYNE_TOOLS) packaging/fyne-package.sh windows '$(VERSION)' $(DIST)/epicshare-$(VERSION)-windows-amd64.exe
	cp packaging/signal-server.service packaging/Containerfile $(DIST)/
	cd $(DIST) && sha256sum -- $$(ls | grep -vx SHA256SUMS) >SHA256SUMS && sha256sum --quiet -c SHA256SUMS
	@ls -l $(DIST)

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

clean: ## remove build output
	rm -rf $(BIN) $(DIST) bench.out EpicShare.tar.xz
