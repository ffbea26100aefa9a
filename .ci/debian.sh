# shellcheck shell=bash
# What the .ci scripts share about Debian, sourced by each of them: apt-get as root (directly or
# through sudo), whether a package is installed, and a python3 that can make virtual environments.
# Needs only bash, dpkg-query and apt-get (.ci/preflight.sh checks for them first).

DEBIAN_SUDO=""
if [ "$(id -u)" != 0 ]; then DEBIAN_SUDO="sudo"; fi

# apt-get, non-interactive even through sudo, waiting for a dpkg lock another apt run holds.
apt_get() { $DEBIAN_SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 "$@"; }

# True when Debian package $1 is installed.
deb_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

# Installs Debian packages ($2...), writing apt's output to the log file $1; on failure prints the
# log's tail and exits. No package's maintainer script may start a daemon meanwhile (nginx would
# bind :80, etcd-server would start an etcd): the policy-rc.d guard that says so is removed
# afterwards, also on an interrupt (callers set their own EXIT trap after this returns).
apt_install() {
  local log="$1"
  shift
  local guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $DEBIAN_SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $DEBIAN_SUDO chmod +x /usr/sbin/policy-rc.d
    guard=/usr/sbin/policy-rc.d
    trap '$DEBIAN_SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  local status=0
  { apt_get update -qq \
      && apt_get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"; } >"$log" 2>&1 \
    || status=$?
  if [ -n "$guard" ]; then
    $DEBIAN_SUDO rm -f "$guard"
    trap - EXIT
  fi
  if [ "$status" != 0 ]; then
    tail -n 40 "$log" >&2
    echo "apt-get could not install $* (whole log: $log)" >&2
    exit 1
  fi
}

# Prints the first python3 (on PATH, then Debian's) that can make a venv with pip in it.
find_venv_python() {
  local c
  for c in python3 /usr/bin/python3; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import venv, ensurepip' 2>/dev/null; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

# Prints a python3 that can make a venv, installing Debian's python3-venv (which has ensurepip)
# when none can; apt's output goes to the log file $1.
venv_python() {
  if ! find_venv_python; then
    echo "    installing python3-venv" >&2
    apt_install "$1" python3-venv
    echo /usr/bin/python3
  fi
}
