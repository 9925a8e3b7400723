#!/usr/bin/env bash
# Builds the real neko server (m1k1o/neko v3.1.5) for codrive's real-neko
# test tier, into .cache/neko/bin/neko. `make neko`, `make setup` and .ci/run
# (through scripts/setup.sh) run it.
#
# Where the source is, first match wins:
#   1. $NEKO_SOURCE (the folder holding server/, image-config.yml, ...);
#   2. <repo>/../shared/third_party/neko (the layout of this workplace and CI);
#   3. for a git worktree: the same beside the main work tree;
#   4. for a clone of a clone: the sibling ../shared/third_party/neko of the
#      path in `git config remote.origin.url`, when that is a local path.
# No source: under CI=true that is an error (the real tier must run there);
# otherwise one line says so and the real tier of `make test` skips.
#
# What it does, each step skipped when already done:
#   - Debian packages the build and the tests need (scripts/apt-install.sh,
#     --no-install-recommends): the C toolchain and X11/GTK/GStreamer headers
#     for neko's cgo, Xvfb for the display it captures, ImageMagick's
#     `import` for the tests' screenshots of that display;
#   - copies server/ into .cache/neko/src (shared/ is read-only and
#     `go build` wants a writable module), builds .cache/neko/bin/neko, and
#     stamps it with a hash of the source tree and the Go version, so that it
#     rebuilds only when either changes.
# Concurrent runs (engineers sharing one .cache) are serialised by a lock.
#
# Usage: scripts/build-neko.sh        (CODRIVE_NEKO_SKIP_APT=1: no apt step)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { echo "build-neko: $*"; }
die() { echo "build-neko: error: $*" >&2; exit 1; }

find_source() {
	if [ -n "${NEKO_SOURCE:-}" ]; then
		[ -d "$NEKO_SOURCE/server/cmd/neko" ] || die "NEKO_SOURCE=$NEKO_SOURCE has no server/cmd/neko"
		echo "$NEKO_SOURCE"
		return
	fi
	local cand="$repo/../shared/third_party/neko"
	if [ -d "$cand/server/cmd/neko" ]; then
		(cd "$cand" && pwd)
		return
	fi
	# A linked worktree: its common git dir is <main work tree>/.git.
	local common
	common="$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)"
	if [ -n "$common" ] && [ "$(basename "$common")" = .git ]; then
		cand="$(dirname "$common")/../shared/third_party/neko"
		if [ -d "$cand/server/cmd/neko" ]; then
			(cd "$cand" && pwd)
			return
		fi
	fi
	local origin
	origin="$(git -C "$repo" config --get remote.origin.url 2>/dev/null || true)"
	origin="${origin#file://}"
	if [ -n "$origin" ] && [ -d "$origin" ]; then
		cand="$origin/../shared/third_party/neko"
		if [ -d "$cand/server/cmd/neko" ]; then
			(cd "$cand" && pwd)
			return
		fi
	fi
}

src="$(find_source)"
if [ -z "$src" ]; then
	if [ "${CI:-}" = true ]; then
		die "neko source not found (NEKO_SOURCE, $repo/../shared/third_party/neko, or beside remote.origin.url); CI needs the real-neko tier"
	fi
	say "neko source not found (set NEKO_SOURCE); the real-neko test tier will skip"
	exit 0
fi
say "source: $src"

# Build: gcc, pkg-config and the -dev packages behind neko's cgo directives
# (#cgo LDFLAGS -lX11 -lXrandr -lXtst -lXfixes -lXi -lxcvt; pkg-config gtk+-3.0,
# gstreamer-1.0, gstreamer-app-1.0, gstreamer-video-1.0). Run: the GStreamer
# plugins neko's pipelines use, Xvfb for its display, and imagemagick for
# `import -window root` in the tests.
packages=(
	gcc pkg-config libc6-dev
	libx11-dev libxrandr-dev libxtst-dev libxfixes-dev libxi-dev libxcvt-dev libgtk-3-dev
	libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
	gstreamer1.0-plugins-base gstreamer1.0-plugins-good
	xvfb xauth imagemagick
)
if [ "${CODRIVE_NEKO_SKIP_APT:-}" != 1 ]; then
	say "Debian packages: ${packages[*]}"
	APT_NO_RECOMMENDS=1 bash "$repo/scripts/apt-install.sh" "${packages[@]}"
fi
command -v go >/dev/null 2>&1 || die "go not found on PATH"

cache="$repo/.cache/neko"
bin="$cache/bin/neko"
mkdir -p "$cache/bin"

# The stamp covers every file of server/ (names and contents) and the Go
# toolchain, so a changed source or a new Go rebuilds.
stamp="$( (cd "$src" && find server -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; go version) | sha256sum | cut -d' ' -f1)"

exec 9>"$cache/.lock"
if ! flock -n 9; then
	say "another build holds $cache/.lock; waiting"
	flock 9
fi

if [ -x "$bin" ] && [ "$(cat "$bin.stamp" 2>/dev/null || true)" = "$stamp" ]; then
	say "up to date: $bin (stamp ${stamp:0:12})"
	exit 0
fi

say "copying the source into $cache/src"
rm -rf "$cache/src"
mkdir -p "$cache/src"
cp -r "$src/server/." "$cache/src/"
chmod -R u+w "$cache/src"

say "go build ./cmd/neko (first build downloads neko's modules; later ones take ~15 s)"
start=$SECONDS
(
	cd "$cache/src"
	# Its own module: no workspace of ours, no VCS stamp (the copy sits
	# inside our repository's work tree).
	GOWORK=off GOFLAGS=-buildvcs=false go build -o "$bin.tmp" ./cmd/neko
)
mv -f "$bin.tmp" "$bin"
echo "$stamp" >"$bin.stamp"
say "built $bin in $((SECONDS - start)) s (stamp ${stamp:0:12})"
