#!/usr/bin/env bash
# Run sea-node on an emulated aarch64 (Raspberry Pi OS 64-bit class) Debian userland.
#
#   deploy/targets/aarch64.sh --bundle B --input AUDIO --out OUT.jsonl [--legacy] [-- SEA_NODE_ARGS]
#   deploy/targets/aarch64.sh --build-only
#
# Build (once, cached in $SEA_AARCH64_ROOTFS, default ~/.cache/sea/aarch64-rootfs; needs root,
# mmdebstrap, qemu-user-static and binfmt_misc): an arm64 Debian bookworm userland with two
# virtual environments made from aarch64 wheels of the package index:
#   /opt/sea-node    the `node` extra: ai-edge-litert, numpy 2 (what `pip install "sea[node]"` gives)
#   /opt/sea-legacy  the `node-legacy` extra: tflite-runtime 2.14 with numpy<2 on Python 3.11
# Run (no root needed): the rootfs's python3.11 under qemu-aarch64 with the rootfs as its
# sysroot (-L), so bundle, audio and output paths are the host's own; this checkout's source
# comes first on PYTHONPATH, so the code run is the code here, not the copy installed at build.
# It prints the emulated interpreter's platform.machine() (aarch64) before running.
set -euo pipefail

ROOTFS=${SEA_AARCH64_ROOTFS:-$HOME/.cache/sea/aarch64-rootfs}
SUITE=${SEA_DEBIAN_SUITE:-bookworm}
MIRROR=${SEA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
QEMU=${SEA_QEMU_AARCH64:-$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)}
CPU=${SEA_QEMU_CPU:-cortex-a72}  # Raspberry Pi 4's core (Pi 5: cortex-a76)

die() { echo "aarch64.sh: $*" >&2; exit 2; }

build_rootfs() {
    [ "$(id -u)" = 0 ] || die "building the rootfs needs root (mmdebstrap + chroot); run once as root or set SEA_AARCH64_ROOTFS to a built one"
    command -v mmdebstrap >/dev/null || die "mmdebstrap missing: apt-get install mmdebstrap qemu-user-static binfmt-support"
    [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || {
        mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
        update-binfmts --enable qemu-aarch64 || die "cannot register qemu-aarch64 with binfmt_misc"
    }
    local started tmp
    started=$(date +%s)
    tmp="$ROOTFS.partial"  # stages finished there are kept when an interrupted build is re-run
    mkdir -p "$tmp"
    if [ ! -f "$tmp/.sea-stage-userland" ]; then
        echo "aarch64.sh: building arm64 $SUITE userland in $ROOTFS (once)" >&2
        find "$tmp" -mindepth 1 -delete
        mmdebstrap --arch=arm64 --variant=apt \
            --include=python3,python3-venv,python3-pip,ca-certificates,libsndfile1 \
            "$SUITE" "$tmp" "$MIRROR"
        touch "$tmp/.sea-stage-userland"
    fi
    cp /etc/resolv.conf "$tmp/etc/resolv.conf"
    # Behind a TLS-inspecting proxy pip inside needs the host's CAs (a superset of Debian's).
    cp /etc/ssl/certs/ca-certificates.crt "$tmp/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$tmp/opt/sea-src"
    mkdir -p "$tmp/opt/sea-src"
    # The project as pip sees it (sources and pyproject; no venv, git or outputs).
    tar -C "$REPO" --exclude=__pycache__ -cf - pyproject.toml README.md sea deploy training data_prep |
        tar -C "$tmp/opt/sea-src" -xf -
    # node: what `pip install "sea[node]"` gives on Pi OS 64-bit (ai-edge-litert, numpy 2);
    # node-legacy: tflite-runtime 2.14, whose aarch64 wheels need numpy<2 and Python <= 3.11.
    chroot "$tmp" /usr/bin/env -u PIP_FIND_LINKS /bin/sh -euc '
        for v in node legacy; do
            [ -f /opt/sea-$v/.sea-ready ] && continue
            rm -rf /opt/sea-$v
            python3 -m venv /opt/sea-$v
            if [ $v = node ]; then
                /opt/sea-$v/bin/pip install -q --prefer-binary "/opt/sea-src[node]"
            else
                /opt/sea-$v/bin/pip install -q --prefer-binary "numpy<2" "/opt/sea-src[node-legacy]"
            fi
            /opt/sea-$v/bin/python -c "import platform, numpy; print(\"sea-$v:\", platform.machine(), \"numpy\", numpy.__version__)"
            touch /opt/sea-$v/.sea-ready
        done'
    echo "$(( $(date +%s) - started ))" >> "$tmp/.sea-build-seconds"
    write_cpuinfo "$tmp"
    touch "$tmp/.sea-ready"
    rm -rf "$ROOTFS"
    mv "$tmp" "$ROOTFS"
    echo "aarch64.sh: rootfs built in $(awk '{s += $1} END {print s}' "$ROOTFS/.sea-build-seconds") s" >&2
}

# qemu-user passes the host's /proc/cpuinfo through (x86 text) unless the sysroot has one;
# TFLite's CPU detection (cpuinfo) then finds no ARM cores and the interpreter segfaults in
# allocate_tensors. A Raspberry Pi 4's cpuinfo in the rootfs (its /proc is not mounted by
# these runs) is read instead, through -L.
write_cpuinfo() {
    local i
    for i in 0 1 2 3; do
        printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n' "$i"
        printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n'
    done > "$1/proc/cpuinfo"
}

bundle="" ; input=() ; out="" ; venv=sea-node ; build_only=0 ; extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --bundle) bundle=$2; shift 2 ;;
        --input) shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do input+=("$1"); shift; done ;;
        --out) out=$2; shift 2 ;;
        --legacy) venv=sea-legacy; shift ;;
        --build-only) build_only=1; shift ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done

[ -n "$QEMU" ] || die "qemu-aarch64 not found: apt-get install qemu-user-static"
[ -f "$ROOTFS/.sea-ready" ] || build_rootfs
[ -s "$ROOTFS/proc/cpuinfo" ] || write_cpuinfo "$ROOTFS"
[ "$build_only" = 1 ] && exit 0
[ -n "$bundle" ] && [ ${#input[@]} -gt 0 ] && [ -n "$out" ] || die "need --bundle, --input and --out (see --help)"

abspath() { case "$1" in /*|-) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
args=(run --bundle "$(abspath "$bundle")" --out "$(abspath "$out")")
for i in "${input[@]}"; do [ "$i" = mic ] && args+=(--input mic) || args+=(--input "$(abspath "$i")"); done

# -0 sets argv[0], so python finds /opt/$venv/pyvenv.cfg (read through the -L sysroot).
emulated() {
    PYTHONPATH="$REPO" "$QEMU" -cpu "$CPU" -L "$ROOTFS" -0 "/opt/$venv/bin/python" \
        "$ROOTFS/usr/bin/python3" "$@"
}
emulated -c 'import platform, sys; print("platform.machine():", platform.machine(), "| python", sys.version.split()[0], "| venv", sys.prefix)' >&2
exec_args=("${args[@]}" "${extra[@]}")
emulated -m deploy.node.cli "${exec_args[@]}"
