#!/usr/bin/env bash
# Installs every Debian package that ionet's build, tests, demo and benches need.
# Idempotent: when all are present it does nothing (no apt-get update, no network).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  openmpi-bin libopenmpi-dev libpmix-dev   # Open MPI 4.1 built against external OpenPMIx 4.2
  libcli11-dev                             # command-line parsing
  libgtest-dev googletest                  # unit and integration tests
  protobuf-compiler libprotobuf-dev        # launcher<->agent control messages
  libasio-dev                              # standalone Asio event loop
  libtomlplusplus-dev                      # pool.toml (toml++ 3.3)
  python3 python3-mpi4py                   # mpi4py test program, bench driver
  python3-torch                            # PyTorch DDP (Gloo) across hosts in the data-path tests
  netpipe-openmpi                          # NPmpi: MPI ping-pong across hosts (tests, bench/datapath)
  lammps hpcc                              # real MPI programs run with and without libionet-coll (tests/coll)
  iproute2 procps                          # ss / ps used by tests
  libssl-dev openssl                       # TLS 1.3 for wan-transport sessions; pool CA/certs
  nftables iputils-ping                    # WAN emulator: random loss, partitions; delay check
  clang libclang-rt-14-dev                 # libFuzzer target for the wan frame decoder
  libhdf5-openmpi-dev hdf5-tools python3-h5py  # checkpoint sets: HDF5 rank files; h5dump, h5py in tests
  libxxhash-dev                            # XXH3-64 checksums of checkpoint files
  libsqlite3-dev                           # the batch queue's state (jobscripts/)
  slurmctld slurmd slurm-client munge      # a real Slurm for tests/slurm and bench/launch (DESIGN.md §6)
  libcpp-httplib-dev nlohmann-json3-dev    # /metrics and the queue's web view; every JSON ionet writes
  prometheus                               # promtool and a real Prometheus server in tests/observe
  chromium                                 # headless Chromium: the web view's DOM test, screenshot
  curl                                     # fetching endpoints in tests and benches
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}"
