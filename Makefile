# gostree — see README.md. `make demo` runs the main job, `make test` all tests.
GO       ?= go
BIN      := bin
FUZZTIME ?= 30s
PKGS     := ./...

.PHONY: all build test test-short bench lint cross fuzz demo clean boot-test

all: build

build:
	$(GO) build -o $(BIN)/gostree ./cmd/gostree
	$(GO) build -o $(BIN)/gostree-mount ./cmd/gostree-mount
	CGO_ENABLED=0 $(GO) build -tags initramfs -trimpath -ldflags='-s -w' -o $(BIN)/gostree-prepare-root ./cmd/gostree-mount

# All tests. Privileged and kernel-dependent tests skip with a reason unless
# the capability is there (CI runs as root, so there they run);
# GOSTREE_TEST_NO_SKIP=1 turns those skips into failures.
test: build cross
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 60m $(PKGS)

test-short: build
	$(GO) test -count=1 -short $(PKGS)

# Boots deployments under qemu (TCG) with a Debian >= 6.12 kernel fetched by
# apt-get download (cached in /var/cache/gostree-boottest): verity=require,
# upgrade, rollback, tampering. Root only; skips with the reason without
# qemu, busybox-static or the Debian mirror (GOSTREE_TEST_NO_SKIP=1 fails).
boot-test:
	./scripts/boot-test.sh

bench: build
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

# Other platforms, and the pure-Go SHA-256 fallback, which amd64 builds skip.
cross:
	GOOS=darwin $(GO) build ./fsverity/ ./gvariant/ ./keyfile/ ./internal/sha256x2/
	GOARCH=arm64 $(GO) build ./fsverity/ ./internal/sha256x2/
	$(GO) test -count=1 -tags purego ./internal/sha256x2/

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzWalk$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./composefs/
	$(GO) test -run '^$$' -fuzz '^FuzzDumpRoundTrip$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./composefs/
	$(GO) test -run '^$$' -fuzz '^FuzzBlockSums$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/sha256x2/
	$(GO) test -run '^$$' -fuzz '^FuzzSumMany$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./fsverity/
	$(GO) test -run '^$$' -fuzz '^FuzzReaderAt$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./fsverity/
	$(GO) test -run '^$$' -fuzz '^FuzzTreeUnmarshal$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./fsverity/
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./gvariant/
	$(GO) test -run '^$$' -fuzz '^FuzzRoundTrip$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./gvariant/
	$(GO) test -run '^$$' -fuzz '^FuzzLookupVardict$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./gvariant/
	$(GO) test -run '^$$' -fuzz '^FuzzParsePrint$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./gvariant/
	$(GO) test -run '^$$' -fuzz '^FuzzDecompressModule$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./initramfs/
	$(GO) test -run '^$$' -fuzz '^FuzzRoundTrip$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./initramfs/cpio/
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./initramfs/cpio/
	$(GO) test -run '^$$' -fuzz '^FuzzParseKmsgRecord$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./initramfs/prepareroot/
	$(GO) test -run '^$$' -fuzz '^FuzzParseCmdline$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./initramfs/prepareroot/
	$(GO) test -run '^$$' -fuzz '^FuzzMetadataValue$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./initramfs/prepareroot/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./keyfile/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeDirTree$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./objstore/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeCommit$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./objstore/
	$(GO) test -run '^$$' -fuzz '^FuzzParseStatOverride$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./objstore/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeMetaHeaders$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./objstore/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeFileHeaderFast$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./objstore/
	$(GO) test -run '^$$' -fuzz '^FuzzImportArchiveContent$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./objstore/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeSummary$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./objstore/
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./objstore/gpgverify/
	$(GO) test -run '^$$' -fuzz '^FuzzReadKeys$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./objstore/gpgverify/

demo: build
	./scripts/demo.sh

clean:
	rm -rf $(BIN)
