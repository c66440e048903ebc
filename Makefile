# Build, test and release openstack-capacity-exporter.
#
#   make build     stamped binary ./openstack-capacity-exporter
#   make test      unit tests (the README's test command)
#   make lint      gofmt, go vet, promtool on the rules and the goldens (.ci/lint.sh)
#   make e2e       the real-server suite (e2e/run.sh; root, a few minutes)
#   make release   static linux/amd64 and linux/arm64 tarballs and sha256sums.txt in dist/
#   make docker    the container image, stamped the same way
#   make clean
#
# The version stamp comes from git; override any part of it on the command
# line (make release VERSION=0.1.0). Without git or without tags it falls back
# to what there is: no tag gives the short commit, no git gives "dev" and
# "unknown".

GO          ?= go
DOCKER      ?= docker
BINARY      := openstack-capacity-exporter
PKG         := ./cmd/openstack-capacity-exporter
DIST        := dist
BUILD_DIR   := .build
PLATFORMS   ?= linux/amd64 linux/arm64
DOCKER_IMAGE ?= $(BINARY)

git = $(shell git $(1) 2>/dev/null)
# GNU date takes -d @EPOCH, BSD date -r EPOCH.
date = $(shell date -u -d @$(BUILD_EPOCH) +$(1) 2>/dev/null || date -u -r $(BUILD_EPOCH) +$(1))

# Each is computed once (the := after the ?=); a value given on the command
# line wins. v0.1.0 -> 0.1.0, as Prometheus' --version prints it.
VERSION    ?= $(or $(patsubst v%,%,$(call git,describe --tags --always --dirty)),dev)
REVISION   ?= $(or $(call git,rev-parse HEAD),unknown)
BRANCH     ?= $(or $(call git,rev-parse --abbrev-ref HEAD),unknown)
BUILD_USER ?= $(or $(shell id -un 2>/dev/null),unknown)@$(or $(shell hostname 2>/dev/null),unknown)
VERSION    := $(VERSION)
REVISION   := $(REVISION)
BRANCH     := $(BRANCH)
BUILD_USER := $(BUILD_USER)
# SOURCE_DATE_EPOCH (reproducible-builds.org) pins the date, and with it the
# tarballs' bytes; otherwise it is now. UTC, promu's format and RFC 3339.
BUILD_EPOCH := $(or $(SOURCE_DATE_EPOCH),$(shell date -u +%s))
BUILD_DATE  ?= $(call date,%Y%m%d-%H:%M:%S)
BUILD_DATE  := $(BUILD_DATE)
CREATED     := $(call date,%Y-%m-%dT%H:%M:%SZ)

version_pkg := github.com/prometheus/common/version
LDFLAGS := -s -w \
	-X $(version_pkg).Version=$(VERSION) \
	-X $(version_pkg).Revision=$(REVISION) \
	-X $(version_pkg).Branch=$(BRANCH) \
	-X $(version_pkg).BuildUser=$(BUILD_USER) \
	-X $(version_pkg).BuildDate=$(BUILD_DATE)
# -trimpath and an empty build id: the same source, stamp and Go version give
# the same binary on any machine.
GOBUILD := $(GO) build -trimpath -ldflags '$(LDFLAGS) -buildid='

.PHONY: all build test lint e2e release docker clean
all: lint test build

build:
	CGO_ENABLED=0 $(GOBUILD) -o $(BINARY) $(PKG)

test:
	$(GO) test -race ./...

lint:
	bash .ci/lint.sh

e2e:
	bash e2e/run.sh

# As promu lays out its tarballs: the binary, LICENSE and README.md under
# openstack-capacity-exporter-VERSION.OS-ARCH/, staged in .build/. Sorted
# names, owner 0, modes independent of the umask and the build date as every
# mtime: a rebuild of the same commit with the same SOURCE_DATE_EPOCH gives
# the same bytes.
release:
	@case '$(VERSION)' in *dirty*) echo "warning: version $(VERSION): the work tree has uncommitted changes" >&2;; esac
	rm -rf $(DIST) $(BUILD_DIR)
	@set -e; for platform in $(PLATFORMS); do \
		os=$${platform%/*}; arch=$${platform#*/}; \
		name=$(BINARY)-$(VERSION).$$os-$$arch; \
		echo ">> $(DIST)/$$name.tar.gz"; \
		mkdir -p $(BUILD_DIR)/$$name $(DIST); \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GOBUILD) -o $(BUILD_DIR)/$$name/$(BINARY) $(PKG); \
		cp LICENSE README.md $(BUILD_DIR)/$$name/; \
		tar -C $(BUILD_DIR) --sort=name --owner=0 --group=0 --numeric-owner \
			--mode=u+rwX,go=rX --mtime=@$(BUILD_EPOCH) -cf - $$name | gzip -n9 >$(DIST)/$$name.tar.gz; \
	done
	cd $(DIST) && sha256sum *.tar.gz >sha256sums.txt
	@cat $(DIST)/sha256sums.txt

docker:
	$(DOCKER) build \
		--build-arg VERSION=$(VERSION) \
		--build-arg REVISION=$(REVISION) \
		--build-arg BRANCH=$(BRANCH) \
		--build-arg BUILD_USER=$(BUILD_USER) \
		--build-arg BUILD_DATE=$(BUILD_DATE) \
		--build-arg CREATED=$(CREATED) \
		-t $(DOCKER_IMAGE):$(VERSION) -t $(DOCKER_IMAGE):latest .

clean:
	rm -rf $(DIST) $(BUILD_DIR) $(BINARY)
