#!/usr/bin/env bash
# Installs the Playwright driver that playwright-go runs (node + playwright-core)
# into .cache/playwright-driver, from the npm registry, without any browser.
#
# playwright-go pins the driver version in the constant playwrightCliVersion of
# its run.go and refuses a driver whose `node package/cli.js --version` does
# not print it. So the version is read from run.go of the playwright-go that
# go.mod requires: bumping playwright-go in go.mod and re-running this script
# is all an upgrade needs, and the two cannot drift apart.
#
# Layout playwright-go checks (run.go: getNodeExecutable, getDriverCliJs):
#   $dest/node            -> symlink to the machine's node
#   $dest/package/cli.js  -> package is a symlink to node_modules/playwright-core
#
# Idempotent: when the right version answers already, it does nothing.
# CODRIVE_PLAYWRIGHT_DRIVER overrides the destination (cdptest reads it too).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${CODRIVE_PLAYWRIGHT_DRIVER:-$repo/.cache/playwright-driver}"
module=github.com/playwright-community/playwright-go

say() { echo "install-playwright-driver: $*"; }
die() { echo "install-playwright-driver: error: $*" >&2; exit 1; }

for tool in node npm go; do
	command -v "$tool" >/dev/null 2>&1 || case "$tool" in
		node | npm) die "$tool not found: install Node.js >= 18 with npm (Debian: apt-get install -y nodejs npm)" ;;
		go) die "go not found: install Go (see go.mod) and put it on PATH" ;;
	esac
done

cd "$repo"
go mod download "$module"
moddir="$(go list -m -f '{{.Dir}}' "$module")"
[ -f "$moddir/run.go" ] || die "$module not in the module cache at '$moddir'"
version="$(sed -n 's/^const playwrightCliVersion = "\([^"]*\)"$/\1/p' "$moddir/run.go")"
[ -n "$version" ] || die "no playwrightCliVersion constant in $moddir/run.go (playwright-go changed its layout?)"

installed_version() {
	[ -x "$dest/node" ] && [ -f "$dest/package/cli.js" ] && "$dest/node" "$dest/package/cli.js" --version 2>/dev/null
}

if out="$(installed_version)" && [[ "$out" == *"$version"* ]]; then
	say "driver $version already in $dest"
	exit 0
fi

say "installing playwright-core@$version (driver for $module) into $dest"
mkdir -p "$dest"
# Nothing may download a browser: the tests use Debian's /usr/bin/chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
npm install --prefix "$dest" --no-save --no-package-lock --ignore-scripts \
	--no-audit --no-fund --loglevel=error "playwright-core@$version"
ln -sfn node_modules/playwright-core "$dest/package"
ln -sfn "$(command -v node)" "$dest/node"

out="$(installed_version)" || die "the installed driver does not run: $dest/node $dest/package/cli.js --version"
[[ "$out" == *"$version"* ]] || die "installed driver reports '$out', want $version"
say "driver $version ready in $dest"
