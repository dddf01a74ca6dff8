# Shared by the bench scripts that measure with wrk: `source benches/common.sh` after `cd`
# to the repository root.

die() { echo "error: $*" >&2; exit 1; }

# Installs wrk from the distribution's packages when it is missing (through sudo when not
# root), refreshing the package lists once if the first attempt fails.
ensure_wrk() {
    command -v wrk >/dev/null && return 0
    echo "== installing wrk" >&2
    local sudo=""
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || die "wrk is missing; install it (apt-get install wrk)"
        sudo="sudo"
    fi
    $sudo apt-get install -y wrk >&2 ||
        { $sudo apt-get update >&2 && $sudo apt-get install -y wrk >&2; } ||
        die "cannot install wrk"
}
