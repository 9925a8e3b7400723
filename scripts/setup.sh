#!/usr/bin/env bash
# Sets a Debian machine up for building and testing codrive; `make setup` and
# .ci/run both run exactly this. Idempotent: what is installed already is
# skipped.
#
#   - Debian packages: chromium (the real browser every CDP test drives, at
#     /usr/bin/chromium), tmux and docker-compose (for the terminal UI and
#     compose tests). Through scripts/apt-install.sh, which retries on apt
#     lock collisions.
#   - node and npm must already be there (checked, not installed).
#   - The Playwright driver for playwright-go, without browsers:
#     scripts/install-playwright-driver.sh.
#   - The real neko v3.1.5 server for the real-neko test tier, built from
#     ../shared/third_party/neko (scripts/build-neko.sh: its Debian packages,
#     Xvfb, ImageMagick, then go build into .cache/neko).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

packages=(chromium tmux)
say "Debian packages: ${packages[*]} docker-compose"
bash "$repo/scripts/apt-install.sh" "${packages[@]}"
APT_NO_RECOMMENDS=1 bash "$repo/scripts/apt-install.sh" docker-compose
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium missing after installing Debian's chromium"

# The Playwright driver runs on Node.js (>= 18). Machines here ship node and
# npm; elsewhere Debian's packages do (bookworm: node 18).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	say "node/npm missing: installing Debian's nodejs and npm"
	bash "$repo/scripts/apt-install.sh" nodejs npm
fi
command -v node >/dev/null 2>&1 || die "node not found after installing Debian's nodejs"
command -v npm >/dev/null 2>&1 || die "npm not found after installing Debian's npm"
say "node $(node --version), npm $(npm --version 2>/dev/null)"

say "Playwright driver"
bash "$repo/scripts/install-playwright-driver.sh"

say "real neko (test tier)"
bash "$repo/scripts/build-neko.sh"
say "done"
