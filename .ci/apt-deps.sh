#!/usr/bin/env bash
# Debian packages the test suite needs: a C toolchain and Debian's source-package tools for
# the real FFmpeg build in tests/env (env/build_ffmpeg.sh --source debian). nasm is left out
# on purpose: the build then configures with --disable-x86asm, the setup that was timed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends build-essential xz-utils dpkg-dev git patch >/dev/null
# Headless Chromium: tests/parity screenshot the HTML parity report to check it renders with its plot.
apt-get install -y -qq --no-install-recommends chromium >/dev/null
