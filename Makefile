# Thin front door: set-up, build, test, demo, bench, install. The real build is CMake.
BUILD   ?= build
PREFIX  ?= /usr/local
JOBS    ?= $(shell nproc)

.PHONY: all deps build test demo bench install clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 600

demo: build
	@bash scripts/demo.sh $(BUILD)

bench: build
	/usr/bin/python3 bench/launch/launch_bench.py --build $(BUILD)
	/usr/bin/python3 bench/wan/wan_bench.py --build $(BUILD)
	/usr/bin/python3 bench/datapath/datapath_bench.py --build $(BUILD)
	/usr/bin/python3 bench/checkpoint/checkpoint_bench.py --build $(BUILD)
	/usr/bin/python3 bench/batch/batch_bench.py --build $(BUILD)
	bash bench/wan/fuzz.sh $(BUILD)
	$(BUILD)/bench/ionet-kernels-bench

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)
