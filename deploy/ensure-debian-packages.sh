#!/usr/bin/env bash
# Installs the Debian packages behind the given commands (or files), only when one is missing.
#
#   deploy/ensure-debian-packages.sh COMMAND=PACKAGE /path/to/file=PACKAGE ...
#
# Quiet when everything is there; one line naming what it installs otherwise, and apt's own
# output only when the install fails. Waits for apt's lock rather than failing on it.
set -euo pipefail

missing=()
for pair in "$@"; do
    wanted=${pair%%=*}
    package=${pair#*=}
    if [[ $wanted == /* ]]; then
        [ -e "$wanted" ] || missing+=("$package")
    elif ! PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$wanted" >/dev/null 2>&1; then
        missing+=("$package")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

cannot() {
    echo "make needs the Debian packages ${missing[*]} for the deployment and browser tests," \
        "and cannot install them: $1. Install them (apt-get install ${missing[*]}) and run" \
        "make again." >&2
    exit 1
}
command -v apt-get >/dev/null 2>&1 || cannot "this machine has no apt-get"
as_root=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || cannot "not root, and no sudo"
    # -n: fail at once rather than wait at a password prompt nobody sees.
    sudo -n true 2>/dev/null || cannot "not root, and sudo asks for a password"
    as_root=(sudo -n)
fi

echo "installing Debian packages with apt-get (as root): ${missing[*]}" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
apt_install() {
    "${apt[@]}" update -qq &&
        "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}"
}
# One retry: a mirror that drops a connection now and then should not fail a build.
if ! apt_install >"$log" 2>&1 && ! { sleep 5 && apt_install >"$log" 2>&1; }; then
    cat "$log" >&2
    exit 1
fi
