#!/usr/bin/env bash
# Installs what building and testing rillflow needs on Debian bookworm, and
# nothing when it is all there already. Needs root or sudo for apt-get.
set -euo pipefail

packages=(
    build-essential g++ make cmake pkg-config git
    postgresql-15 postgresql-client-15 postgresql-server-dev-15 libpq-dev
    postgresql-15-cron
    nlohmann-json3-dev libcli11-dev libgtest-dev libcpp-httplib-dev
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "rillflow: installing ${missing[*]}"
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# Installing PostgreSQL for the first time would create and start a system
# cluster, which rillflow never uses: when we are the ones bringing in
# postgresql-common, tell it not to. An existing installation is left as it is.
if ! dpkg-query -W -f='${Status}' postgresql-common 2>/dev/null | grep -q "install ok installed"; then
    "${sudo[@]}" mkdir -p /etc/postgresql-common
    echo 'create_main_cluster = false' | "${sudo[@]}" tee /etc/postgresql-common/createcluster.conf >/dev/null
fi
"${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
