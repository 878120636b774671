#!/usr/bin/env bash
# The test suite: install what is missing, build, run every test through CTest.
#   bash launch/test.sh                 # all tests
#   bash launch/test.sh -R shard        # extra arguments go to ctest
# Environment: as launch/setup.sh; FER_TEST_JOBS (parallel tests, default nproc).
set -euo pipefail
source "$(dirname "$0")/common.sh"
install_dependencies "${FER_TEST_PACKAGES[@]}"
build_project
log "running the test suite"
cd "$FER_BUILD_DIR"
ctest --output-on-failure --timeout 1200 -j "${FER_TEST_JOBS:-$(nproc)}" "$@"
