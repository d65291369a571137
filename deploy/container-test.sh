#!/usr/bin/env bash
# make container-test: builds the real Dockerfile with podman, runs the image, waits for its own
# health check, posts a loss request, stops it.
#
# No Docker engine and no registry of images is needed. The base image is made here, as Debian
# bookworm with python3 3.11 (what python:3.11-slim-bookworm is) by debootstrap, cached under
# $LOSS_SERVICE_CACHE_DIR (default ~/.cache/loss-service) with podman's own storage, so a second
# run rebuilds only the layers whose inputs changed. Storage uses the overlay driver where the
# kernel lets us mount overlays (several times faster), else vfs, which works anywhere;
# LOSS_SERVICE_STORAGE_DRIVER=vfs|overlay chooses. The container gets a network namespace of
# its own holding only a loopback interface: the image runs exactly as shipped (CMD on
# 0.0.0.0:8000, its HEALTHCHECK) without taking a port on the machine, and the checks reach it on
# 127.0.0.1 from inside that namespace.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
say() { printf '[container-test %4ss] %s\n' "$((SECONDS - started))" "$*"; }

KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
bash deploy/ensure-debian-packages.sh podman=podman runc=runc ip=iproute2 \
    debootstrap=debootstrap "$KEYRING=debian-archive-keyring"
if [ "$(id -u)" -ne 0 ]; then
    echo "container-test needs root (debootstrap, network namespaces, podman's storage)" >&2
    exit 1
fi

SUITE=bookworm
BASE_PACKAGES=python3,python3-venv,passwd
CACHE_DIR=${LOSS_SERVICE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/loss-service}
# The cache key changes with the base's recipe, so a changed recipe never reuses a stale base.
recipe="$SUITE $BASE_PACKAGES ${DEBIAN_MIRROR:-} minbase-trimmed-v1"
key=$(printf '%s' "$recipe" | sha256sum | cut -c1-12)
BASE_TAR=$CACHE_DIR/base-$SUITE-$key.tar
BASE_IMAGE=localhost/loss-service-base:$SUITE-$key
IMAGE=localhost/loss-service:container-test
BUILDER_IMAGE=localhost/loss-service:container-test-builder
LOG_DIR=$CACHE_DIR/logs
CONTAINER=loss-service-ct-$$
NETNS=loss-service-ct-$$

mkdir -p "$CACHE_DIR" "$LOG_DIR"

overlay_works() {
    local probe
    probe=$(mktemp -d "$CACHE_DIR/overlay-probe.XXXXXX")
    mkdir "$probe/lower" "$probe/upper" "$probe/work" "$probe/merged"
    if mount -t overlay overlay \
        -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" \
        "$probe/merged" 2>/dev/null; then
        umount "$probe/merged"
        rm -rf "$probe"
        return 0
    fi
    rm -rf "$probe"
    return 1
}
driver=${LOSS_SERVICE_STORAGE_DRIVER:-}
if [ -z "$driver" ]; then
    if overlay_works; then driver=overlay; else driver=vfs; fi
fi

export CONTAINERS_CONF=$PWD/deploy/podman/containers.conf
# A storage of its own, one per driver, so nothing clashes with other podman use. (The run root
# must stay the same from run to run: podman records it in its database.)
podman=(podman --root "$CACHE_DIR/storage-$driver" --runroot "/run/loss-service-ct-$driver"
    --storage-driver "$driver" --runtime runc)

cleanup() {
    "${podman[@]}" rm --force --ignore "$CONTAINER" >/dev/null 2>&1 || true
    ip netns delete "$NETNS" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Prints a log's tail and fails.
fail() {
    echo "container-test: $1" >&2
    [ -n "${2:-}" ] && [ -f "$2" ] && tail -n 60 "$2" >&2
    exit 1
}

# 1. The base image: debootstrap once, then the cached tarball, then podman's own store.
if ! "${podman[@]}" image exists "$BASE_IMAGE"; then
    if [ ! -f "$BASE_TAR" ]; then
        say "debootstrap $SUITE (minbase + $BASE_PACKAGES) into the cache"
        rootfs=$CACHE_DIR/rootfs.tmp
        rm -rf "$rootfs"
        # No mirror argument unless DEBIAN_MIRROR is set: debootstrap's default mirror.
        # shellcheck disable=SC2086
        # An explicit keyring: debootstrap then refuses a Release file it cannot verify.
        debootstrap --variant=minbase --include="$BASE_PACKAGES" --keyring="$KEYRING" \
            "$SUITE" "$rootfs" ${DEBIAN_MIRROR:-} >"$LOG_DIR/debootstrap.log" 2>&1 ||
            fail "debootstrap failed" "$LOG_DIR/debootstrap.log"
        # What an image does not need: downloaded packages, package lists, documentation.
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
            "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
        tar --numeric-owner -C "$rootfs" -cf "$BASE_TAR.tmp" .
        mv "$BASE_TAR.tmp" "$BASE_TAR"
        rm -rf "$rootfs"
    fi
    say "podman import $BASE_TAR as $BASE_IMAGE"
    "${podman[@]}" import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
        "$BASE_TAR" "$BASE_IMAGE" >"$LOG_DIR/import.log" 2>&1 ||
        fail "podman import failed" "$LOG_DIR/import.log"
else
    say "base image $BASE_IMAGE is cached"
fi

# 2. The build, as an operator's docker build would do it, with the base swapped. pip reaches
# the package index through this machine's TLS set-up, so its CA bundle is mounted for the RUN
# steps (not copied into any layer).
build_args=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
ca_bundle=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
if [ -f "$ca_bundle" ]; then
    build_args+=(--volume "$ca_bundle:/run/host-ca.crt:ro" --build-arg PIP_CERT=/run/host-ca.crt)
fi
if [ -n "${PIP_INDEX_URL:-}" ]; then
    build_args+=(--build-arg "PIP_INDEX_URL=$PIP_INDEX_URL")
fi
say "podman build, $driver storage (log: $LOG_DIR/build.log)"
build_started=$SECONDS
build=("${podman[@]}" build --isolation chroot --pull=never --format docker --layers
    "${build_args[@]}" --file Dockerfile)
# The builder stage is tagged too: its layers (the dependencies above all) then stay in the
# cache when the old images are pruned below. --format docker keeps the HEALTHCHECK, which the
# OCI image format has no field for.
{
    "${build[@]}" --target builder --tag "$BUILDER_IMAGE" . &&
        "${build[@]}" --tag "$IMAGE" .
} >"$LOG_DIR/build.log" 2>&1 || fail "podman build failed" "$LOG_DIR/build.log"
cached=$(grep -c -- '--> Using cache' "$LOG_DIR/build.log" || true)
say "built $IMAGE in $((SECONDS - build_started)) s ($cached steps from the cache)"
# Earlier builds' images, no longer tagged, would fill the store.
"${podman[@]}" image prune --force >/dev/null 2>&1 || true

# 3. Run it as shipped: its CMD, a read-only root, no capabilities.
ip netns add "$NETNS"
ip netns exec "$NETNS" ip link set lo up
say "podman run $IMAGE (network namespace $NETNS)"
"${podman[@]}" run --detach --name "$CONTAINER" --network "ns:/run/netns/$NETNS" \
    --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \
    --health-interval disable "$IMAGE" >"$LOG_DIR/run.log" 2>&1 ||
    fail "podman run failed" "$LOG_DIR/run.log"

# 4. Its own HEALTHCHECK, run by podman inside the container, until it passes (at most 60 s).
deadline=$((SECONDS + 60))
until "${podman[@]}" healthcheck run "$CONTAINER" >/dev/null 2>&1; do
    if [ "$("${podman[@]}" inspect --format '{{.State.Running}}' "$CONTAINER")" != true ]; then
        "${podman[@]}" logs "$CONTAINER" >"$LOG_DIR/container.log" 2>&1 || true
        fail "the container exited before it was healthy" "$LOG_DIR/container.log"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        "${podman[@]}" logs "$CONTAINER" >"$LOG_DIR/container.log" 2>&1 || true
        fail "no healthy HEALTHCHECK within 60 s" "$LOG_DIR/container.log"
    fi
    sleep 1
done
say "healthy"

user=$("${podman[@]}" exec "$CONTAINER" python3 -c 'import os; print(os.getuid(), os.getgid())')
[ "$user" = "10001 10001" ] || fail "the service runs as uid/gid $user, not 10001 10001"

# 5. A loss request from outside the container, on 127.0.0.1 in its network namespace.
ip netns exec "$NETNS" python3 - <<'PY' || fail "the loss request failed"
import json
import urllib.request

base = "http://127.0.0.1:8000"
with urllib.request.urlopen(f"{base}/readyz", timeout=10) as response:
    assert response.status == 200, response.status
body = json.dumps({"predictions": [1.0, 2.0, 3.0], "targets": [1.0, 2.0, 5.0]}).encode()
request = urllib.request.Request(
    f"{base}/v1/losses/mse",
    data=body,
    headers={"Content-Type": "application/json", "X-Request-ID": "container-test"},
)
with urllib.request.urlopen(request, timeout=10) as response:
    result = json.load(response)
    assert response.headers["X-Request-ID"] == "container-test", dict(response.headers)
assert abs(result["value"] - 4 / 3) < 1e-12, result
print(f"POST /v1/losses/mse -> value {result['value']:.6f}, count {result['count']}")
# A plot: matplotlib draws under a read-only root, with its font cache from the image.
with urllib.request.urlopen(f"{base}/v1/losses/huber/plot?delta=2", timeout=30) as response:
    picture = response.read()
    assert response.headers["Content-Type"] == "image/svg+xml", dict(response.headers)
assert b"huber (delta=2.0)" in picture, picture[:200]
print(f"GET /v1/losses/huber/plot -> {len(picture)} bytes of SVG")
PY

# 6. Stop it: SIGTERM, and the service must exit 0 on its own within the grace period.
say "podman stop"
# (podman also tries to remove a systemd timer for the health check, which it never made here:
# that complaint goes to the log.)
"${podman[@]}" stop --time 30 "$CONTAINER" >"$LOG_DIR/stop.log" 2>&1 ||
    fail "podman stop failed" "$LOG_DIR/stop.log"
exit_code=$("${podman[@]}" inspect --format '{{.State.ExitCode}}' "$CONTAINER")
"${podman[@]}" logs "$CONTAINER" >"$LOG_DIR/container.log" 2>&1 || true
[ "$exit_code" = 0 ] || fail "the service exited with $exit_code after SIGTERM" "$LOG_DIR/container.log"
say "stopped, exit code 0; container-test passed in $((SECONDS - started)) s"
