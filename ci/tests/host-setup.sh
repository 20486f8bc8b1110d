#!/usr/bin/env bash
# ci/tests/host-setup.sh — ci/host-setup picks its packages by distribution and says clearly what
# it does not support, checked with --dry-run on made-up os-release files (changes nothing).
set -euo pipefail
cd "$(dirname "$0")/../.."
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
passed=0; failed=0

# check NAME WANT_EXIT PATTERN ARGS...: host-setup ARGS exits WANT_EXIT and prints PATTERN (ERE).
check() {
  local name=$1 want=$2 pattern=$3 out rc=0
  shift 3
  out=$(bash ci/host-setup "$@" 2>&1) || rc=$?
  if [ "$rc" = "$want" ] && grep -qE -- "$pattern" <<< "$out"; then
    echo "ok      $name"; passed=$((passed + 1))
  else
    echo "FAILED  $name: wanted exit $want and /$pattern/, got exit $rc:"
    printf '    %s\n' "${out//$'\n'/$'\n'    }"
    failed=$((failed + 1))
  fi
}
osr() { printf 'ID=%s\nVERSION_ID="%s"\nVERSION_CODENAME=%s\nPRETTY_NAME="%s"\n' "$@" > "$TMP/$1-$2"; echo "$TMP/$1-$2"; }

ub24=$(osr ubuntu 24.04 noble "Ubuntu 24.04.3 LTS")
ub22=$(osr ubuntu 22.04 jammy "Ubuntu 22.04.5 LTS")
deb12=$(osr debian 12 bookworm "Debian GNU/Linux 12 (bookworm)")
deb13=$(osr debian 13 trixie "Debian GNU/Linux 13 (trixie)")
fedora=$(osr fedora 41 "" "Fedora Linux 41")
ub20=$(osr ubuntu 20.04 focal "Ubuntu 20.04.6 LTS")

pkgs='(would run: .*apt-get install .*|packages already installed: .*)'
check "Ubuntu 24.04: Ubuntu's package names" 0 "$pkgs bubblewrap qemu-user-static binfmt-support debian-archive-keyring" --dry-run --os-release "$ub24"
check "Ubuntu 22.04: the same names" 0 "$pkgs bubblewrap qemu-user-static binfmt-support" --dry-run --os-release "$ub22"
check "Debian 12: qemu-user-static" 0 "$pkgs qemu-user-static binfmt-support" --dry-run --os-release "$deb12"
check "Debian 13: qemu-user + qemu-user-binfmt (qemu-user-static is transitional there)" 0 "$pkgs qemu-user qemu-user-binfmt" --dry-run --os-release "$deb13"
check "--no-zig leaves pip out" 0 'debian-archive-keyring$' --dry-run --no-zig --os-release "$ub24"
check "Fedora: unsupported, with what to install by hand" 3 'unsupported distribution: Fedora Linux 41.*' --dry-run --os-release "$fedora"
check "Ubuntu 20.04: unsupported" 3 'supported: Debian 12 \(bookworm\), Debian 13 \(trixie\), Ubuntu 22.04 \(jammy\), Ubuntu 24.04 \(noble\)' --dry-run --os-release "$ub20"
check "a bad --userns mode" 2 'expected auto, profile, sysctl or skip' --dry-run --userns maybe --os-release "$ub24"
check "Debian 13: Go packages from trixie-backports, pinned low" 0 'Suites: trixie-backports$' --dry-run --go-distro 1.25 --no-zig --os-release "$deb13"
check "a bad --go-distro version" 2 'expected a Go minor version' --dry-run --go-distro go1.22 --os-release "$deb12"
PATH=/usr/bin:/bin check "--go without crossmatrix says to install it" 2 'needs crossmatrix on PATH' --dry-run --go go1.24 --no-zig --os-release "$ub24"
CROSSMATRIX=/bin/true check "--go runs crossmatrix toolchain install" 0 'would run: /bin/true toolchain install go1.23 go1.24' --dry-run --go go1.23 --go go1.24 --os-release "$ub24" --no-zig
echo "host-setup.sh: $passed passed, $failed failed"
[ "$failed" = 0 ]
