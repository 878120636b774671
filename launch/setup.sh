#!/usr/bin/env bash
# Installs the Debian packages the project needs (idempotent) and builds it.
#   bash launch/setup.sh
# Environment: FER_BUILD_DIR (default build/), FER_BUILD_TYPE (Release),
# FER_CMAKE_ARGS (extra CMake arguments), FER_SKIP_INSTALL=1 (no apt-get).
set -euo pipefail
source "$(dirname "$0")/common.sh"
install_dependencies
build_project
