#!/usr/bin/env bash
# Build decord from source against the FFmpeg that env/build_ffmpeg.sh installed, then install
# its Python binding. Run with --help.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
die() { echo "build_decord.sh: error: $*" >&2; exit 1; }

usage() {
  cat <<'EOF'
Usage: DECORD_SRC=PATH env/build_decord.sh [options]

Builds decord (CPU only, -DUSE_CUDA=0) with CMake against FFmpeg in --ffmpeg-prefix, then
installs the Python binding with `pip install --no-deps --no-build-isolation` into $PYTHON's
environment. decord has no aarch64 wheel and no sdist on PyPI; its source must be given.

  DECORD_SRC          a decord checkout (with submodules) or a .tar.gz / .tar.xz of one
  --ffmpeg-prefix DIR FFmpeg install prefix (default /usr/local); FFmpeg >= 5 is refused
  --workdir DIR       build directory (default: a new temp dir, removed afterwards)
  --jobs N            make -j N (default: nproc)
  --no-install        build libdecord.so and stop (do not pip install the binding)
  --dry-run           print the plan and exit without building or installing anything
  -h, --help          this text

Environment: PYTHON (default python3) is the interpreter whose pip installs the binding.
EOF
}

PREFIX=/usr/local; WORKDIR=""; JOBS="$(nproc)"; INSTALL=1; DRY_RUN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --ffmpeg-prefix) PREFIX="${2:?--ffmpeg-prefix needs a directory}"; shift 2 ;;
    --workdir) WORKDIR="${2:?--workdir needs a directory}"; shift 2 ;;
    --jobs) JOBS="${2:?--jobs needs a number}"; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done
[ -n "${DECORD_SRC:-}" ] || die "DECORD_SRC is not set; point it at a decord checkout or tarball (git clone --recursive https://github.com/dmlc/decord)"
[ -e "$DECORD_SRC" ] || die "DECORD_SRC=$DECORD_SRC does not exist"

MAX_MAJOR="$("$PYTHON" "$HERE/gen_constraints.py" --field ffmpeg.max_major)"
VERSION_H="$PREFIX/include/libavformat/version.h"
[ -f "$VERSION_H" ] || die "no FFmpeg headers in $PREFIX ($VERSION_H missing); run env/build_ffmpeg.sh --prefix $PREFIX first"
# FFmpeg >= 5.1 keeps the major version in version_major.h.
AVFORMAT_MAJOR="$(cat "$VERSION_H" "$PREFIX/include/libavformat/version_major.h" 2>/dev/null \
  | sed -n 's/^#define LIBAVFORMAT_VERSION_MAJOR *\([0-9]*\).*/\1/p' | head -n1 || true)"
[ -n "$AVFORMAT_MAJOR" ] || die "cannot read LIBAVFORMAT_VERSION_MAJOR from $VERSION_H"
# libavformat 58 is FFmpeg 4.x; 59 is FFmpeg 5.
FFMPEG_MAJOR=$(( AVFORMAT_MAJOR - 54 ))
if [ "$FFMPEG_MAJOR" -gt "$MAX_MAJOR" ]; then
  die "FFmpeg in $PREFIX is ${FFMPEG_MAJOR}.x (libavformat $AVFORMAT_MAJOR); decord builds only against FFmpeg <= ${MAX_MAJOR}.x (5.0 made AVCodec const and removed av_register_all): build one with env/build_ffmpeg.sh"
fi

CMAKE_ARGS=(-DCMAKE_BUILD_TYPE=Release -DUSE_CUDA=0 "-DFFMPEG_DIR=$PREFIX"
  "-DCMAKE_PREFIX_PATH=$PREFIX" "-DCMAKE_INSTALL_RPATH=$PREFIX/lib"
  -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON)
if [ "$DRY_RUN" = 1 ]; then
  echo "PLAN build_decord.sh"
  echo "source: $DECORD_SRC"
  echo "ffmpeg: $PREFIX (FFmpeg ${FFMPEG_MAJOR}.x, libavformat $AVFORMAT_MAJOR)"
  echo "workdir: ${WORKDIR:-<new temp dir, removed afterwards>}"
  echo "cmake: ${CMAKE_ARGS[*]}"
  echo "build: make -j$JOBS"
  if [ "$INSTALL" = 1 ]; then echo "install: $PYTHON -m pip install --no-deps --no-build-isolation <src>/python"
  else echo "install: skipped (--no-install)"; fi
  exit 0
fi

command -v cmake >/dev/null || die "cmake not found; apt-get install cmake (or pip install cmake)"
if [ "$INSTALL" = 1 ]; then
  "$PYTHON" -c "import setuptools, wheel, numpy" 2>/dev/null \
    || die "$PYTHON lacks setuptools, wheel or numpy, which decord's setup.py needs: $PYTHON -m pip install setuptools wheel 'numpy<2'"
fi
if [ -z "$WORKDIR" ]; then
  WORKDIR="$(mktemp -d -t npu-compat-decord.XXXXXX)"; trap 'rm -rf "$WORKDIR"' EXIT
fi
mkdir -p "$WORKDIR/src"
if [ -d "$DECORD_SRC" ]; then cp -a "$DECORD_SRC/." "$WORKDIR/src/"
else tar -xf "$DECORD_SRC" -C "$WORKDIR/src" --strip-components=1; fi
SRC="$WORKDIR/src"
[ -f "$SRC/CMakeLists.txt" ] && [ -d "$SRC/python" ] || die "$DECORD_SRC is not a decord source tree (no CMakeLists.txt and python/)"
[ -n "$(ls -A "$SRC/3rdparty/dlpack" 2>/dev/null)" ] || die "decord's submodules are missing; clone with --recursive or run git submodule update --init --recursive"

mkdir -p "$SRC/build" && cd "$SRC/build"
cmake .. "${CMAKE_ARGS[@]}" > cmake.log 2>&1 || { tail -n 20 cmake.log >&2; die "cmake failed (log above)"; }
make -j"$JOBS" > make.log 2>&1 || { tail -n 30 make.log >&2; die "make failed (log above)"; }
[ -f libdecord.so ] || die "make finished but built no libdecord.so"
echo "build_decord.sh: built $SRC/build/libdecord.so against FFmpeg ${FFMPEG_MAJOR}.x in $PREFIX"
if [ "$INSTALL" = 1 ]; then
  # decord's setup.py looks for ../build/libdecord.so and copies it into the package.
  "$PYTHON" -m pip install --no-deps --no-build-isolation "$SRC/python" > pip.log 2>&1 \
    || { tail -n 20 pip.log >&2; die "pip install of the binding failed (log above)"; }
  echo "build_decord.sh: installed the decord binding into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
fi
