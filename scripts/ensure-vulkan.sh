#!/usr/bin/env bash
# Makes sure a Vulkan driver is present. On a machine without a GPU driver this installs Mesa's
# software rasteriser (lavapipe, package mesa-vulkan-drivers). On Debian 12 it comes from the
# backports suite: Mesa 25 runs our kernels about 10x faster than bookworm's Mesa 22. The mirror
# is taken from the machine's own apt sources, so no host is named here.
set -euo pipefail

have_icd() { ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1; }
mesa_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true; }
codename() { . /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}"; }

# A driver is there and, on bookworm, it is not the slow Mesa 22: nothing to do.
if have_icd && { [ "$(codename)" != bookworm ] || [[ "$(mesa_version)" != 22.* ]]; }; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "no Vulkan driver found: install Mesa's lavapipe (mesa-vulkan-drivers) or a GPU driver" >&2
    exit 1
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
target=()
if [ "$(codename)" = bookworm ]; then
    # The first Debian mirror the machine already uses (deb822 or one-line format).
    mirror=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
    if [ -z "$mirror" ]; then
        mirror=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
    fi
    if [ -n "$mirror" ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" |
            $sudo tee /etc/apt/sources.list.d/glimpse-backports.sources >/dev/null
    fi
    grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ && target=(-t bookworm-backports)
fi
echo "installing Mesa's software Vulkan driver (mesa-vulkan-drivers ${target[*]:-})" >&2
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${target[@]}" mesa-vulkan-drivers >/dev/null
