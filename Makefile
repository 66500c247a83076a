# The two commands a newcomer needs (README): `make run` and `make test`. Both install missing
# Debian packages first (tools/install-deps.sh is idempotent and quick when nothing is missing).
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= 2
BENCH ?=
CTEST_ARGS ?=

.PHONY: all deps configure build test run bench package clean

all: build

deps:
	@tools/install-deps.sh

$(BUILD_DIR)/build.ninja: | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) $(CTEST_ARGS)

run: build
	@tools/run-local.sh $(BUILD_DIR)

bench: build
	@bench/run.sh $(BUILD_DIR) $(BENCH)

# The Debian package, $(BUILD_DIR)/casebus_<version>_<arch>.deb (docs/operations.md).
package: build
	cd $(BUILD_DIR) && cpack -G DEB

clean:
	rm -rf $(BUILD_DIR)
