# strata — build, test and demo. `make demo` and `make test` do all their own
# set-up on a fresh Debian machine (Go 1.26 must be on PATH).

GO        ?= go
BIN       := bin/strata
PKG       := ./cmd/strata
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# The build date is the commit's date, so two builds of one commit are identical.
DATE      ?= $(shell git log -1 --format=%cI 2>/dev/null)
LDFLAGS   := -s -w -buildid= -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
GOFLAGS_B := -trimpath -buildvcs=false -ldflags '$(LDFLAGS)'
export CGO_ENABLED=0

FIXTURES  := fixtures/testdata
DEMO      := $(FIXTURES)/xz-planted.docker.tar
PARTIAL   := $(FIXTURES)/producers/c8d-partial.oci.tar
FUZZTIME  ?= 30s

.PHONY: all build test test-go hostile-big tools demo demo-run bench fuzz fuzz-smoke fixtures lint dist dist-check clean offline-check screenshot

all: build

build:
	$(GO) build $(GOFLAGS_B) -o $(BIN) $(PKG)

# tools installs what the interop, rpm, browser and terminal tests need
# (Debian packages); without root it says what is missing and the tests that
# need a tool skip with a message.
tools:
	@sh fixtures/install-tools.sh

test: tools test-go hostile-big fuzz-smoke offline-check

test-go:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	@echo "GOOS=windows go build ./... (no POSIX-only calls on the read path)"; GOOS=windows $(GO) build ./...
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...

# hostile-big adds the big hostile cases (decompression bombs of every
# format, a million entries) to the suite, each held to its 10 s and
# 256 MiB budget; without -race, whose slowdown is not what the budget is about.
hostile-big:
	$(GO) test -count=1 -run '^TestCases$$' ./fixtures/hostile -args -hostile.big

# offline-check runs the CLI tests again inside a network namespace with no
# interfaces, where the kernel allows it (root or user namespaces).
offline-check: build
	@if unshare -n true 2>/dev/null; then \
		echo "offline-check: running CLI tests and demo with no network (unshare -n)"; \
		unshare -n $(GO) test -count=1 ./cmd/... && unshare -n $(MAKE) --no-print-directory demo-run; \
	else echo "offline-check: unshare -n not permitted here; skipped"; fi

demo: build demo-run

demo-run:
	@echo "== strata inspect $(DEMO)"; $(BIN) inspect $(DEMO); test $$? -le 1
	@echo; echo "== strata ls --layer 1 $(DEMO) /usr/lib"; $(BIN) ls --layer 1 $(DEMO) /usr/lib; test $$? -le 1
	@echo; echo "== strata blame $(DEMO) /usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1 /tmp/xz-5.6.1.tar.gz"; \
		$(BIN) blame $(DEMO) /usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1 /tmp/xz-5.6.1.tar.gz; test $$? -le 1
	@echo; echo "== strata scan $(DEMO)"; $(BIN) scan $(DEMO); test $$? -le 1
	@echo; echo "== strata scan $(PARTIAL) (docker save on Docker 29's containerd store: 1 of 3 platforms, absent by design)"; \
		$(BIN) scan $(PARTIAL); test $$? -le 1
	@echo; echo "== strata scan $(FIXTURES)/clean.docker.tar (control)"; $(BIN) scan $(FIXTURES)/clean.docker.tar

# bench generates (once, cached in BENCH_DIR) a 1.6 GB image, its
# uncompressed twin and a fleet of 20, then times strata against the limit
# program and the peers; see bench/run.sh and docs/performance.md.
BENCH_DIR ?= .cache/bench
BENCH_RUNS ?= 3
bench:
	BENCH_DIR=$(BENCH_DIR) BENCH_RUNS=$(BENCH_RUNS) GO=$(GO) sh bench/run.sh

# fuzz runs every FuzzXxx target for FUZZTIME each (make fuzz FUZZTIME=10m);
# `make test` runs each for FUZZ_SMOKE executions. Targets are found in the
# test files (one `func FuzzXxx(f *testing.F)` per parser), not by building
# every test binary to list them. A duration can end a run with "context
# deadline exceeded" and no failing input: a race in Go's fuzzing
# coordinator (go.dev/issue/75804, fixed in Go 1.27), not a finding. A count
# (FUZZTIME=100000x) has no deadline to race, hence the smoke run's count.
FUZZ_SMOKE ?= 2000x
fuzz:
	@set -e; grep -rl --include='*_test.go' --exclude-dir=.cache --exclude-dir=testdata '^func Fuzz' . | sort | while read -r file; do \
		dir=./$$(dirname "$${file#./}"); \
		for f in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$file"); do \
			echo "== $$dir $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10s -parallel 1 $$dir; \
		done; done

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZ_SMOKE)

# fixtures regenerates every committed fixture, in dependency order, after
# checking that the tools the generators call are here (`make tools`
# installs them; buildah and podman need root). Each generator's test
# fails when its committed output differs from a fresh run.
FIXTURE_TOOLS := gcc strip dpkg-deb skopeo umoci buildah podman rpm rpmbuild sqlite3 db5.3_load pacman
fixtures:
	@missing=""; for t in $(FIXTURE_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
		if [ -n "$$missing" ]; then echo "make fixtures: missing:$$missing (run make tools)" >&2; exit 1; fi
	sh fixtures/gen/inputs.sh
	$(GO) run ./fixtures/gen -out fixtures/testdata -inputs fixtures/gen/inputs
	$(GO) run ./fixtures/hostile/gen -o fixtures/hostile/testdata
	$(GO) run ./fixtures/producers/containerd -out fixtures/testdata/producers
	$(GO) run ./fixtures/producers/estargz -out fixtures/testdata/producers
	$(GO) run ./fixtures/producers/quirks -out fixtures/testdata/producers
	$(GO) run ./fixtures/producers/twins -out fixtures/testdata/producers
	sh fixtures/real/gen.sh
	$(GO) run ./fixtures/producers/twins -in fixtures/testdata/real -out fixtures/testdata/real-twins
	bash fixtures/pkgdb/gen.sh
	bash fixtures/pkgdb/gen-pacman.sh

lint:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64

# dist cross-builds static, reproducible binaries with the ruleset embedded,
# plus completions, man pages and SHA256SUMS. The man pages and completions
# come from cmd/strata/internal/gendocs (not shipped), dated by the commit.
dist:
	rm -rf dist && mkdir -p dist
	@for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "dist/strata-$$os-$$arch$$ext"; \
		GOOS=$$os GOARCH=$$arch $(GO) build $(GOFLAGS_B) -o dist/strata-$$os-$$arch$$ext $(PKG) || exit 1; \
	done
	$(GO) run ./cmd/strata/internal/gendocs -out dist -version '$(VERSION)' -date '$(DATE)'
	cd dist && find . -type f ! -name SHA256SUMS | LC_ALL=C sort | xargs sha256sum > SHA256SUMS

# dist-check builds twice and compares: the binaries must be byte-identical.
dist-check:
	$(MAKE) --no-print-directory dist && cp dist/SHA256SUMS /tmp/strata-SHA256SUMS.1
	$(MAKE) --no-print-directory dist && diff /tmp/strata-SHA256SUMS.1 dist/SHA256SUMS && echo "dist: reproducible"

# screenshot renders the HTML report of the planted fixture in headless
# Chromium and saves docs/report.png (shown in docs/reports.md).
screenshot:
	$(GO) test -count=1 -run '^TestHTMLRendersInChromium$$' ./forensics/report -args -screenshot $(CURDIR)/docs/report.png

clean:
	rm -rf bin dist
