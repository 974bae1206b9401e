#!/usr/bin/env bash
# Debian packages the test suite needs; filled in from tests/env (FFmpeg source build).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends build-essential pkg-config >/dev/null
