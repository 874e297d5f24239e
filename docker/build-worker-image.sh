#!/usr/bin/env bash
# Builds the worker image without any image registry: `dotnet publish` (self-contained) on this host,
# then the runtime stage of docker/Dockerfile, unchanged, on a locally imported Debian base that has
# the native libraries .NET needs (docker/build-local-images.sh makes worker-job-base:bookworm).
#   docker/build-worker-image.sh                  # -> worker:local
#   BASE_IMAGE=other:tag IMAGE=worker:dev docker/build-worker-image.sh
# Incremental: the publish reuses its own build folder, and docker reuses its layers when the
# published files did not change.
set -euo pipefail
cd "$(dirname "$0")/.."

base_image="${BASE_IMAGE:-worker-job-base:bookworm}"
image="${IMAGE:-worker:local}"
rid="${RID:-linux-x64}"
work="artifacts/worker-image"
source_copy="$work/src-copy"
context="$work/context"

if ! docker image inspect "$base_image" >/dev/null 2>&1; then
  echo "base image $base_image is missing; docker/build-local-images.sh builds it" >&2
  exit 1
fi

# Publish from a copy of the sources, so this build's restore (with a runtime identifier) and its
# obj/ folders never race a `dotnet build` running in the checkout at the same time. tar keeps the
# files' times, so the copy builds incrementally; files deleted in the checkout are deleted here too.
mkdir -p "$source_copy"
find "$source_copy" \( -name bin -o -name obj \) -prune -o -type f -print0 | xargs -0 -r rm -f
tar -c --exclude=bin --exclude=obj src global.json Directory.Build.props Directory.Packages.props \
  | tar -C "$source_copy" -x
rm -rf "$context"
mkdir -p "$context"
echo "worker image: dotnet publish ($rid, self-contained)"
dotnet publish "$source_copy/src/Worker" -c Release -r "$rid" --self-contained -o "$context/app" \
  -p:DebugType=none -nologo -v q

# The runtime stage of docker/Dockerfile, with the published folder in place of the build stage's.
{
  echo "ARG RUNTIME_IMAGE"
  sed -n '/^FROM \${RUNTIME_IMAGE} AS runtime$/,$p' docker/Dockerfile
} | sed 's#^COPY --from=build /app /opt/worker$#COPY app /opt/worker#' >"$context/Dockerfile"
if ! grep -q '^COPY app /opt/worker$' "$context/Dockerfile"; then
  echo "docker/Dockerfile's runtime stage no longer has 'COPY --from=build /app /opt/worker'; update this script" >&2
  exit 1
fi

echo "worker image: docker build $image on $base_image"
previous="$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
docker build -q -t "$image" --build-arg RUNTIME_IMAGE="$base_image" \
  --label "org.opencontainers.image.revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  "$context" >/dev/null
docker run --rm "$image" --version >/dev/null
# Each commit labels a new image; the one it replaces would linger untagged (a container still using it keeps it).
if [[ -n "$previous" && "$previous" != "$(docker image inspect -f '{{.Id}}' "$image")" ]]; then
  docker image rm "$previous" >/dev/null 2>&1 || true
fi
echo "worker image: $image built"
