#!/usr/bin/env bash
# Build a minimal shared FFmpeg 4.x that decord can link against.
# Version and sha256 come from npu_compat/env/versions.toml ([ffmpeg]); run with --help.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
field() { "$PYTHON" "$HERE/gen_constraints.py" --field "$1"; }
die() { echo "build_ffmpeg.sh: error: $*" >&2; exit 1; }

usage() {
  cat <<'EOF'
Usage: env/build_ffmpeg.sh [options]

Builds FFmpeg as shared libraries with only what decord needs:
  libraries avformat avfilter avcodec avutil avdevice swresample swscale (decord links all);
  filters buffer buffersink scale transpose; decoders h264 hevc mpeg4 vp9 mjpeg (+ av1 if the
  source has it); demuxers mov matroska avi mpegts; protocol file.

Source (version and sha256 pinned in npu_compat/env/versions.toml):
  --source url        download [ffmpeg].url with curl and check [ffmpeg].sha256 (default)
  --tarball PATH      use a local ffmpeg-X.Y.Z.tar.xz; its sha256 must match the table
  --source debian     apt-get source --download-only ffmpeg=[ffmpeg].debian_version (needs a
                      deb-src line for bullseye; see --setup-debian-src) and check the orig
                      tarball's sha256 against [ffmpeg].debian_orig_sha256

Options:
  --prefix DIR        install prefix (default /usr/local)
  --workdir DIR       where to unpack and build (default: a new temp dir, removed afterwards)
  --jobs N            make -j N (default: nproc)
  --programs          also build the ffmpeg/ffprobe programs (default: libraries only)
  --no-ldconfig       do not register PREFIX/lib with ldconfig (an rpath is always set)
  --setup-debian-src  (root) add Debian bullseye deb-src to apt and run apt-get update
  --dry-run           print the plan (source, checks, configure flags, install steps) and exit
                      without downloading, creating or changing anything
  -h, --help          this text

Environment: FFMPEG_VERSION and FFMPEG_SHA256 (both, or neither) override the table for
--source url/--tarball; FFmpeg >= 5 is refused because decord does not build against it.
EOF
}

SOURCE=url; TARBALL=""; PREFIX=/usr/local; WORKDIR=""; JOBS="$(nproc)"
PROGRAMS=0; LDCONFIG=1; SETUP_SRC=0; DRY_RUN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --source) SOURCE="${2:?--source needs url or debian}"; shift 2 ;;
    --tarball) SOURCE=tarball; TARBALL="${2:?--tarball needs a path}"; shift 2 ;;
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift 2 ;;
    --workdir) WORKDIR="${2:?--workdir needs a directory}"; shift 2 ;;
    --jobs) JOBS="${2:?--jobs needs a number}"; shift 2 ;;
    --programs) PROGRAMS=1; shift ;;
    --no-ldconfig) LDCONFIG=0; shift ;;
    --setup-debian-src) SETUP_SRC=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done
case "$SOURCE" in url|tarball|debian) ;; *) die "--source must be url or debian, not '$SOURCE'" ;; esac
case "$PREFIX" in /*) ;; *) PREFIX="$(pwd)/$PREFIX" ;; esac

MAX_MAJOR="$(field ffmpeg.max_major)"
if [ "$SOURCE" = debian ]; then
  DEB_PKG="$(field ffmpeg.debian_package)"; DEB_VERSION="$(field ffmpeg.debian_version)"
  ORIG="$(field ffmpeg.debian_orig)"; SHA256="$(field ffmpeg.debian_orig_sha256)"
  DEB_SRC_LINE="$(field ffmpeg.debian_sources)"
  VERSION="${DEB_VERSION#*:}"; VERSION="${VERSION%%-*}"
else
  if [ -n "${FFMPEG_VERSION:-}${FFMPEG_SHA256:-}" ]; then
    [ -n "${FFMPEG_VERSION:-}" ] && [ -n "${FFMPEG_SHA256:-}" ] \
      || die "set FFMPEG_VERSION and FFMPEG_SHA256 together (or neither, to use the table)"
    VERSION="$FFMPEG_VERSION"; SHA256="$FFMPEG_SHA256"
    URL="https://ffmpeg.org/releases/ffmpeg-${VERSION}.tar.xz"
  else
    VERSION="$(field ffmpeg.version)"; SHA256="$(field ffmpeg.sha256)"; URL="$(field ffmpeg.url)"
  fi
fi
MAJOR="${VERSION%%.*}"
if ! [ "$MAJOR" -le "$MAX_MAJOR" ] 2>/dev/null; then
  die "FFmpeg $VERSION is too new: decord builds only against FFmpeg <= ${MAX_MAJOR}.x (5.0 made AVCodec const and removed av_register_all); use the table's version $(field ffmpeg.version)"
fi

LIBS=(avformat avfilter avcodec avutil avdevice swresample swscale)
FILTERS=(buffer buffersink scale transpose)
DECODERS=(h264 hevc mpeg4 vp9 mjpeg)
OPTIONAL_DECODERS=(av1)
PARSERS=(h264 hevc mpeg4video vp9 mjpeg)
DEMUXERS=(mov matroska avi mpegts)
BSFS=(h264_mp4toannexb hevc_mp4toannexb)
join() { local IFS=,; echo "$*"; }

configure_flags() {  # $1: extra decoders found in the source (may be empty)
  local decoders; decoders="$(join "${DECODERS[@]}")${1:+,$1}"
  CONFIG=(--prefix="$PREFIX" --enable-shared --disable-static --disable-doc
    --disable-autodetect --disable-everything --disable-network --disable-postproc
    --enable-protocol=file --enable-filter="$(join "${FILTERS[@]}")"
    --enable-decoder="$decoders" --enable-parser="$(join "${PARSERS[@]}")"
    --enable-demuxer="$(join "${DEMUXERS[@]}")" --enable-bsf="$(join "${BSFS[@]}")"
    --extra-ldflags="-Wl,-rpath,$PREFIX/lib")
  local lib; for lib in "${LIBS[@]}"; do CONFIG+=("--enable-$lib"); done
  if [ "$PROGRAMS" = 1 ]; then CONFIG+=(--enable-ffprobe --enable-ffmpeg --disable-ffplay)
  else CONFIG+=(--disable-programs); fi
  if [ "$(uname -m)" = x86_64 ] && ! command -v nasm >/dev/null && ! command -v yasm >/dev/null; then
    CONFIG+=(--disable-x86asm)  # no assembler: slower decoding, same API
  fi
}

print_plan() {
  configure_flags "${OPTIONAL_DECODERS[*]}(if the source has it)"
  echo "PLAN build_ffmpeg.sh"
  echo "version: $VERSION (max major $MAX_MAJOR)"
  echo "source: $SOURCE"
  case "$SOURCE" in
    url) echo "fetch: curl -fL $URL" ;;
    tarball) echo "tarball: $TARBALL" ;;
    debian) [ "$SETUP_SRC" = 1 ] && echo "apt-setup: $DEB_SRC_LINE -> /etc/apt/sources.list.d/npu-compat-bullseye-src.list; apt-get update"
            echo "fetch: apt-get source --download-only $DEB_PKG=$DEB_VERSION"
            echo "tarball: $ORIG" ;;
  esac
  echo "sha256: $SHA256"
  echo "workdir: ${WORKDIR:-<new temp dir, removed afterwards>}"
  echo "configure: ${CONFIG[*]}"
  echo "build: make -j$JOBS"
  echo "install: make install -> $PREFIX (lib, include, lib/pkgconfig)"
  echo "rpath: $PREFIX/lib"
  if [ "$LDCONFIG" = 1 ]; then echo "ldconfig: $PREFIX/lib -> /etc/ld.so.conf.d/npu-compat-ffmpeg.conf; ldconfig"
  else echo "ldconfig: skipped (--no-ldconfig)"; fi
}

if [ "$DRY_RUN" = 1 ]; then print_plan; exit 0; fi

setup_debian_src() {
  [ "$(id -u)" = 0 ] || die "--setup-debian-src needs root (it writes /etc/apt/sources.list.d)"
  echo "$DEB_SRC_LINE" > /etc/apt/sources.list.d/npu-compat-bullseye-src.list
  apt-get update -qq
}

if [ -z "$WORKDIR" ]; then
  WORKDIR="$(mktemp -d -t npu-compat-ffmpeg.XXXXXX)"; trap 'rm -rf "$WORKDIR"' EXIT
fi
mkdir -p "$WORKDIR"; cd "$WORKDIR"

case "$SOURCE" in
  url) command -v curl >/dev/null || die "curl not found; install it or use --tarball PATH"
       TARBALL="$WORKDIR/ffmpeg-$VERSION.tar.xz"; curl -fsSL -o "$TARBALL" "$URL" \
         || die "download of $URL failed; fetch it elsewhere and pass --tarball PATH, or use --source debian" ;;
  tarball) [ -f "$TARBALL" ] || die "no tarball at $TARBALL"; TARBALL="$(cd "$(dirname "$TARBALL")" && pwd)/$(basename "$TARBALL")" ;;
  debian) [ "$SETUP_SRC" = 1 ] && setup_debian_src
          apt-get source --download-only "$DEB_PKG=$DEB_VERSION" >/dev/null 2>apt-source.log \
            || die "apt-get source $DEB_PKG=$DEB_VERSION failed ($(tail -n1 apt-source.log)); add '$DEB_SRC_LINE' to apt and run apt-get update, or rerun with --setup-debian-src as root"
          TARBALL="$WORKDIR/$ORIG" ;;
esac
echo "$SHA256  $TARBALL" | sha256sum -c --quiet - \
  || die "sha256 of $TARBALL is not $SHA256 (from the version table); the download is corrupt or a different version"

mkdir src && tar -xf "$TARBALL" -C src --strip-components=1 && cd src
FOUND=""
for dec in "${OPTIONAL_DECODERS[@]}"; do
  if ./configure --list-decoders | tr -s ' \t' '\n' | grep -qx "$dec"; then FOUND="${FOUND:+$FOUND,}$dec"; fi
done
configure_flags "$FOUND"
echo "build_ffmpeg.sh: configuring FFmpeg $VERSION (extra decoders: ${FOUND:-none})"
./configure "${CONFIG[@]}" > configure.log 2>&1 || { tail -n 20 configure.log >&2; die "configure failed (log above)"; }
make -j"$JOBS" > make.log 2>&1 || { tail -n 30 make.log >&2; die "make failed (log above)"; }
make install > install.log 2>&1 || { tail -n 20 install.log >&2; die "make install failed"; }
if [ "$LDCONFIG" = 1 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "$PREFIX/lib" > /etc/ld.so.conf.d/npu-compat-ffmpeg.conf && ldconfig
  else
    echo "build_ffmpeg.sh: warning: not root, skipped ldconfig; set LD_LIBRARY_PATH=$PREFIX/lib if decord cannot find libswscale" >&2
  fi
fi
echo "build_ffmpeg.sh: installed FFmpeg $VERSION to $PREFIX"
