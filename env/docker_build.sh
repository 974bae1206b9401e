#!/usr/bin/env bash
# Build env/Dockerfile for one line of npu_compat/env/versions.toml. Run with --help.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
PYTHON="${PYTHON:-python3}"
die() { echo "docker_build.sh: error: $*" >&2; exit 1; }

usage() {
  cat <<'EOF'
Usage: env/docker_build.sh [--line LINE] [--video decord2|source|none] [--tag TAG] [--dry-run]
                           [-- EXTRA DOCKER BUILD ARGS]

Runs `docker build` (linux/arm64) on env/Dockerfile with BASE_IMAGE and LINE taken from
npu_compat/env/versions.toml, so the CANN image and the pins always come from one table.

  --line LINE    table line (default: the table's default_line); list them with
                 python3 env/gen_constraints.py --list
  --video MODE   decord2 (aarch64 wheel, default), source (FFmpeg 4.x + decord built from
                 source: also pass -- --build-arg DECORD_SRC=<path in this repo>), none
  --tag TAG      image tag (default npu-compat:LINE)
  --dry-run      print the docker build command and exit
Environment: BASE_IMAGE overrides the table's image (it must still be a -910b- tag).
EOF
}

LINE=""; VIDEO=decord2; TAG=""; DRY_RUN=0; EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --line) LINE="${2:?--line needs a name}"; shift 2 ;;
    --video) VIDEO="${2:?--video needs decord2, source or none}"; shift 2 ;;
    --tag) TAG="${2:?--tag needs a value}"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done
case "$VIDEO" in decord2|source|none) ;; *) die "--video must be decord2, source or none, not '$VIDEO'" ;; esac
LINE="${LINE:-$("$PYTHON" "$HERE/gen_constraints.py" --field default_line)}"
TABLE_IMAGE="$("$PYTHON" "$HERE/gen_constraints.py" --line "$LINE" --field base_image)" \
  || die "unknown line '$LINE'; see python3 env/gen_constraints.py --list"
IMAGE="${BASE_IMAGE:-$TABLE_IMAGE}"
case "$IMAGE" in
  *-910b-*) ;;
  *) die "base image $IMAGE is not a -910b- tag; -910- tags are for the older 910A and install other kernels" ;;
esac
CMD=(docker build --platform linux/arm64 -f "$HERE/Dockerfile"
  --build-arg "BASE_IMAGE=$IMAGE" --build-arg "LINE=$LINE" --build-arg "VIDEO=$VIDEO"
  -t "${TAG:-npu-compat:$LINE}" ${EXTRA[@]+"${EXTRA[@]}"} "$REPO")
if [ "$DRY_RUN" = 1 ]; then printf '%q ' "${CMD[@]}"; echo; exit 0; fi
command -v docker >/dev/null || die "docker not found"
exec "${CMD[@]}"
