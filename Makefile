# Thin front door: set-up, build, test, demo, bench, install. The real build is CMake.
BUILD   ?= build
PREFIX  ?= /usr/local
JOBS    ?= $(shell nproc)

.PHONY: all deps build test demo bench sanitize install clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# Unit tests side by side (they share nothing), then the rest one at a time as they need.
test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 600 -L unit -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure --timeout 600 -LE unit

demo: build
	@bash scripts/demo.sh $(BUILD)

bench: build
	/usr/bin/python3 bench/launch/launch_bench.py --build $(BUILD)
	/usr/bin/python3 bench/launch/slurm_launch_bench.py --build $(BUILD)
	/usr/bin/python3 bench/wan/wan_bench.py --build $(BUILD)
	/usr/bin/python3 bench/datapath/datapath_bench.py --build $(BUILD)
	/usr/bin/python3 bench/checkpoint/checkpoint_bench.py --build $(BUILD)
	/usr/bin/python3 bench/batch/batch_bench.py --build $(BUILD)
	/usr/bin/python3 bench/nccl/nccl_bench.py --build $(BUILD)
	/usr/bin/python3 bench/collectives/collectives_bench.py --build $(BUILD)
	/usr/bin/python3 bench/observe/fence_latency_bench.py --build $(BUILD)
	bash bench/wan/fuzz.sh $(BUILD)
	$(BUILD)/bench/ionet-kernels-bench
	bash scripts/sanitize.sh $(BUILD)-asan

# The integration tests against an ASan+UBSan build of the daemons (build-asan).
sanitize: deps
	bash scripts/sanitize.sh $(BUILD)-asan

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(BUILD)-asan
