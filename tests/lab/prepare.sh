#!/usr/bin/env bash
# Prepare an offline Docker lab for envforge's tests and CI.
#
# No container registry is reachable on the lab machines, so every image a
# build starts from is made locally:
#   envforge-lab/python:<tag>  stand-in for python:<tag> (debootstrap + docker import)
#   envforge-lab/uv:<version>  stand-in for ghcr.io/astral-sh/uv:<version>
#                              (FROM scratch, /uv and /uvx from PyPI's uv wheel)
#
# Tools it installs with apt when missing: docker.io (dockerd and the docker
# client), debootstrap, unzip, and docker-compose (Debian's Compose v1, which
# validates and runs the compose.yaml that `envforge dockerize --compose`
# writes, GPU reservation included), and podman with netavark (Debian 12's 4.3,
# whose Docker-compatible socket tests/integration/test_podman.py builds through;
# named, since recommends are not installed and the CNI plugins would be taken),
# docker-registry (Debian's distribution 2.8, the registry that
# tests/integration/test_push.py pushes to), apache2-utils (its htpasswd),
# skopeo (which reads the docker-archive that `envforge save` writes, as
# Apptainer does: tests/integration/test_save.py), and iproute2 (its ip makes the
# bridge of the second dockerd in tests/integration/test_network_refusal.py).
#
# Idempotent: images already present are reused; the finished root file
# systems and uv binaries are cached under $LAB_CACHE so that a run after the
# images were wiped only re-imports them.
#
# Output: one line per image, "made <image> (...)" or "reused <image>".
# Everything else goes to log files under $LAB_LOG_DIR; on failure the tail
# of the relevant log is printed to stderr and the exit status is non-zero.
#
# Knobs (environment):
#   UV_VERSION          uv version for the uv stand-in (default 0.13.9)
#   UV_VERSIONS         several uv versions, space separated (default $UV_VERSION;
#                       set but empty: no uv image)
#   PYTHON_IMAGES       space separated TAG=SUITE pairs; TAG is the python image
#                       tag to stand in for, SUITE the Debian suite to bootstrap
#                       (default "3.11-slim-bookworm=bookworm";
#                       e.g. add "3.13-slim-trixie=trixie"; set but empty: none)
#   LAB_PREFIX          image repository prefix (default envforge-lab)
#   LAB_DEBIAN_MIRROR   Debian mirror (default: the host's apt configuration)
#   LAB_CACHE           cache directory (default /var/cache/envforge-lab)
#   LAB_LOG_DIR         log directory (default /var/log/envforge-lab)
#   DOCKER              docker client (default /usr/bin/docker, Debian's)
set -euo pipefail

UV_VERSION=${UV_VERSION:-0.13.9}
UV_VERSIONS=${UV_VERSIONS-$UV_VERSION}
PYTHON_TAG=${PYTHON_TAG:-3.11-slim-bookworm}
PYTHON_SUITE=${PYTHON_SUITE:-bookworm}
PYTHON_IMAGES=${PYTHON_IMAGES-"${PYTHON_TAG}=${PYTHON_SUITE}"}
LAB_PREFIX=${LAB_PREFIX:-envforge-lab}
PYTHON_REPO=${PYTHON_REPO:-${LAB_PREFIX}/python}
UV_REPO=${UV_REPO:-${LAB_PREFIX}/uv}
LAB_CACHE=${LAB_CACHE:-/var/cache/envforge-lab}
LAB_LOG_DIR=${LAB_LOG_DIR:-/var/log/envforge-lab}
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/envforge-dockerd.log}
DOCKERD_WAIT_S=${DOCKERD_WAIT_S:-60}
LAB_LABEL=${LAB_LABEL:-dev.envforge.lab-standin}
# Bump when the way the python root file system is made changes: it is part
# of the cache key, so stale cached root file systems are not reused.
ROOTFS_RECIPE=1
ROOTFS_PACKAGES=python3,python3-venv,python3-pip,ca-certificates
BASE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

export DEBIAN_FRONTEND=noninteractive
export DOCKER_BUILDKIT=0   # classic builder: what the Docker SDK for Python uses too

if [[ -z ${DOCKER:-} ]]; then
    if [[ -x /usr/bin/docker ]]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi

SUDO=()
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
fi

mkdir -p "$LAB_LOG_DIR" "$LAB_CACHE" 2>/dev/null \
    || "${SUDO[@]}" mkdir -p "$LAB_LOG_DIR" "$LAB_CACHE"

die() {
    echo "prepare.sh: $*" >&2
    exit 1
}

# run_logged LOG CMD...: run CMD with its output appended to LOG; on failure
# print the tail of LOG and exit.
run_logged() {
    local log=$1 rc=0
    shift
    printf '\n### %s: %s\n' "$(date -u +%FT%TZ)" "$*" >>"$log"
    "$@" >>"$log" 2>&1 </dev/null || rc=$?
    if ((rc != 0)); then
        {
            echo "prepare.sh: failed (exit $rc): $*"
            echo "--- last lines of $log ---"
            tail -n 40 "$log"
        } >&2
        exit "$rc"
    fi
}

# Serialise concurrent callers (parallel test workers, CI steps).
exec 9>>"$LAB_CACHE/.lock"
flock 9

# --- 1. tools --------------------------------------------------------------
APT_LOG=$LAB_LOG_DIR/apt.log
apt_install() {
    local apt=("${SUDO[@]}" apt-get -y -q -o DPkg::Lock::Timeout=600
               --no-install-recommends)
    printf '\n### %s: apt-get install %s\n' "$(date -u +%FT%TZ)" "$*" >>"$APT_LOG"
    if ! "${apt[@]}" install "$@" >>"$APT_LOG" 2>&1 </dev/null; then
        run_logged "$APT_LOG" "${SUDO[@]}" apt-get -q -o DPkg::Lock::Timeout=600 update
        run_logged "$APT_LOG" "${apt[@]}" install "$@"
    fi
}

missing=()
[[ -x /usr/sbin/dockerd || -x /usr/bin/dockerd ]] || missing+=(docker.io)
[[ -x /usr/bin/docker ]] || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || [[ -x /usr/sbin/debootstrap ]] || missing+=(debootstrap)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v podman >/dev/null 2>&1 || missing+=(podman netavark aardvark-dns)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
# ip: the bridge of the second dockerd that tests/integration/test_network_refusal.py starts.
command -v ip >/dev/null 2>&1 || [[ -x /usr/sbin/ip || -x /sbin/ip ]] || missing+=(iproute2)
if ((${#missing[@]})); then
    # A background "apt-get install docker.io" may hold the dpkg lock:
    # DPkg::Lock::Timeout waits for it.
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    apt_install "${missing[@]}"
fi
export PATH=$PATH:/usr/sbin:/sbin

# --- 2. dockerd ------------------------------------------------------------
docker_ok() { "$DOCKER" info >/dev/null 2>&1; }
if ! docker_ok; then
    : >>"$DOCKERD_LOG"
    printf '\n### %s: starting dockerd\n' "$(date -u +%FT%TZ)" >>"$DOCKERD_LOG"
    # setsid + all descriptors redirected: dockerd outlives this script and
    # does not hold a caller's captured stdout/stderr open.
    "${SUDO[@]}" setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
    deadline=$((SECONDS + DOCKERD_WAIT_S))
    until docker_ok; do
        if ((SECONDS >= deadline)); then
            {
                echo "prepare.sh: dockerd did not answer within ${DOCKERD_WAIT_S}s"
                echo "--- last lines of $DOCKERD_LOG ---"
                tail -n 40 "$DOCKERD_LOG"
            } >&2
            exit 1
        fi
        sleep 1
    done
fi

image_present() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

# --- 3. python stand-ins ---------------------------------------------------
# The Debian mirror this host's apt uses (deb822 .sources or one-line .list).
debian_mirror() {
    if [[ -n ${LAB_DEBIAN_MIRROR:-} ]]; then
        echo "$LAB_DEBIAN_MIRROR"
        return
    fi
    local files=() f uri
    [[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] && files+=("$f")
    done
    if ((${#files[@]})); then
        uri=$(
            awk '
                /^[[:space:]]*#/ { next }
                tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i; next }
                $1 == "deb" {
                    for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; break }
                }
            ' "${files[@]}" |
                grep -E '^(https?|file)://' | grep -v -e '-security' -e 'security\.' |
                grep -E '/debian/?$' | head -n 1
        ) || true
        if [[ -n $uri ]]; then
            echo "${uri%/}"
            return
        fi
    fi
    echo http://deb.debian.org/debian
}

# Make the root file system for python:$tag from Debian $suite as a tarball.
make_rootfs_tar() {
    local suite=$1 out=$2 log=$3 dir mirror
    mirror=$(debian_mirror)
    dir=$(mktemp -d "${TMPDIR:-/tmp}/envforge-rootfs.XXXXXX")
    # shellcheck disable=SC2064
    trap "cleanup_rootfs '$dir'" EXIT
    run_logged "$log" "${SUDO[@]}" debootstrap --variant=minbase \
        --include="$ROOTFS_PACKAGES" "$suite" "$dir/root" "$mirror"
    # shellcheck disable=SC2016  # expanded by the inner bash
    run_logged "$log" "${SUDO[@]}" bash -euo pipefail -c '
        root=$1
        if findmnt -rno TARGET | grep -q "^$root/"; then
            echo "still mounted under $root:"; findmnt -rno TARGET | grep "^$root/"; exit 1
        fi
        # Behave like the official python images: python/python3/pip on PATH
        # from /usr/local/bin, and pip allowed to install (PEP 668 marker gone).
        mkdir -p "$root/usr/local/bin"
        [[ -e $root/usr/bin/python ]] || ln -s python3 "$root/usr/bin/python"
        for name in python python3; do
            [[ -e $root/usr/local/bin/$name ]] || ln -s /usr/bin/python3 "$root/usr/local/bin/$name"
        done
        for name in pip pip3; do
            [[ -e $root/usr/local/bin/$name ]] || ln -s /usr/bin/pip3 "$root/usr/local/bin/$name"
        done
        find "$root"/usr/lib/python3* -name EXTERNALLY-MANAGED -print -delete
        [[ -x $root/usr/bin/pip3 ]] || { echo "pip3 missing from the root file system"; exit 1; }
        # Keep it small and free of host specifics.
        rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
               "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/archives/partial/* \
               "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old \
               "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* \
               "$root"/usr/share/man/* "$root"/usr/share/info/*
        mkdir -p "$root/var/lib/apt/lists/partial"
        find "$root/usr/lib" -depth -name __pycache__ -type d -exec rm -rf {} +
        rm -rf --one-file-system "$root"/dev/*
        : >"$root/etc/hostname"
        : >"$root/etc/resolv.conf"
        chroot "$root" /usr/bin/python3 -c "import platform; print(platform.python_version())" >"$2.pyver"
        tar --numeric-owner --one-file-system -C "$root" -cf "$2.part" .
        mv -f "$2.part" "$2"
    ' prepare-rootfs "$dir/root" "$out"
    cleanup_rootfs "$dir"
    trap - EXIT
}

cleanup_rootfs() {
    local dir=$1 m
    [[ -d $dir ]] || return 0
    # debootstrap may leave mounts behind when it fails: unmount before removing.
    while read -r m; do
        "${SUDO[@]}" umount -l "$m" 2>/dev/null || true
    done < <(findmnt -rno TARGET | grep "^$dir/" | sort -r)
    "${SUDO[@]}" rm -rf --one-file-system "$dir" 2>/dev/null || true
}

ensure_python_image() {
    local tag=$1 suite=$2 image="$PYTHON_REPO:$1" tar log start how pyver
    if image_present "$image"; then
        echo "reused $image"
        return
    fi
    start=$SECONDS
    log=$LAB_LOG_DIR/python-$tag.log
    tar=$LAB_CACHE/rootfs-$tag-$suite-r$ROOTFS_RECIPE.tar
    if [[ -s $tar && -s $tar.pyver ]]; then
        how="cached root file system $tar"
    else
        how="debootstrap $suite from $(debian_mirror)"
        make_rootfs_tar "$suite" "$tar" "$log"
    fi
    pyver=$(cat "$tar.pyver" 2>/dev/null || true)
    run_logged "$log" "$DOCKER" import \
        -c "ENV PATH=$BASE_PATH" \
        -c 'ENV LANG=C.UTF-8' \
        ${pyver:+-c "ENV PYTHON_VERSION=$pyver"} \
        -c "LABEL $LAB_LABEL=python:$tag" \
        -c "LABEL dev.envforge.lab-suite=$suite" \
        -c 'CMD ["python3"]' \
        "$tar" "$image"
    # Smoke test: the things the official image offers.
    run_logged "$log" "$DOCKER" run --rm --network none "$image" sh -ec '
        python -c "import sys, ssl, venv, ensurepip; print(sys.version)"
        python -m pip --version
        ! ls /usr/lib/python3*/EXTERNALLY-MANAGED 2>/dev/null'
    echo "made $image ($how, $((SECONDS - start))s)"
}

for spec in $PYTHON_IMAGES; do
    [[ $spec == *=* ]] || die "PYTHON_IMAGES entry '$spec' is not TAG=SUITE"
    ensure_python_image "${spec%%=*}" "${spec#*=}"
done

# --- 4. uv stand-ins -------------------------------------------------------
fetch_uv_binaries() {
    local version=$1 dest=$2 log=$3 tmp whl
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/envforge-uv.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" EXIT
    run_logged "$log" python3 -m pip download --no-deps --only-binary=:all: \
        --dest "$tmp" "uv==$version"
    whl=$(find "$tmp" -maxdepth 1 -name "uv-$version-*.whl" | head -n 1)
    [[ -n $whl ]] || die "no uv $version wheel downloaded (see $log)"
    run_logged "$log" unzip -o -j "$whl" \
        "uv-$version.data/scripts/uv" "uv-$version.data/scripts/uvx" -d "$tmp/bin"
    chmod 0755 "$tmp/bin/uv" "$tmp/bin/uvx"
    mkdir -p "$dest.part"
    mv -f "$tmp/bin/uv" "$tmp/bin/uvx" "$dest.part/"
    rm -rf "$dest"
    mv "$dest.part" "$dest"
    rm -rf "$tmp"
    trap - EXIT
}

ensure_uv_image() {
    local version=$1 image="$UV_REPO:$1" bin log ctx start how
    if image_present "$image"; then
        echo "reused $image"
        return
    fi
    start=$SECONDS
    log=$LAB_LOG_DIR/uv-$version.log
    bin=$LAB_CACHE/uv-$version
    if [[ -x $bin/uv && -x $bin/uvx ]]; then
        how="cached binaries $bin"
    else
        how="PyPI wheel uv==$version"
        fetch_uv_binaries "$version" "$bin" "$log"
    fi
    ctx=$(mktemp -d "${TMPDIR:-/tmp}/envforge-uvctx.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$ctx'" EXIT
    cp "$bin/uv" "$bin/uvx" "$ctx/"
    cat >"$ctx/Dockerfile" <<DOCKERFILE
# Stand-in for ghcr.io/astral-sh/uv:$version (same layout: /uv and /uvx).
FROM scratch
COPY uv uvx /
WORKDIR /io
LABEL $LAB_LABEL="ghcr.io/astral-sh/uv:$version"
ENTRYPOINT ["/uv"]
DOCKERFILE
    run_logged "$log" "$DOCKER" build --rm -t "$image" "$ctx"
    rm -rf "$ctx"
    trap - EXIT
    echo "made $image ($how, $((SECONDS - start))s)"
}

for version in $UV_VERSIONS; do
    ensure_uv_image "$version"
done
