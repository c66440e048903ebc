#!/usr/bin/env bash
# Guards `make release`: builds it as a release would be (a version given,
# the date pinned to the commit's), then checks what a user downloads: the
# checksums, each tarball's contents, that the binaries are static and of
# the right architecture, that the amd64 one reports the stamp, that a build
# without git falls back to "dev", and that a second run gives the same
# bytes. Works in a temporary directory: the
# tree's dist/, .build/ and binary are left alone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash e2e/apt-install.sh release make file >/dev/null

fail() { echo "check-release: $*" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dist="$work/dist"
release() {
	make -s release DIST="$dist" BUILD_DIR="$work/build" VERSION="$version" SOURCE_DATE_EPOCH="$epoch" >/dev/null
}

version=0.0.0-ci
revision="$(git rev-parse HEAD)"
epoch="$(git log -1 --format=%ct)"
date="$(date -u -d "@$epoch" +%Y%m%d-%H:%M:%S)"
release
cp "$dist/sha256sums.txt" "$work/first.txt"

(cd "$dist" && sha256sum --strict -c sha256sums.txt) || fail "sha256sums.txt does not match the tarballs"
[[ "$(ls "$dist")" == "$(printf '%s\n' \
	"openstack-capacity-exporter-$version.linux-amd64.tar.gz" \
	"openstack-capacity-exporter-$version.linux-arm64.tar.gz" \
	sha256sums.txt)" ]] || fail "dist/ holds $(ls "$dist" | tr '\n' ' ')"
[[ "$(wc -l <"$dist/sha256sums.txt")" -eq 2 ]] || fail "sha256sums.txt lists $(wc -l <"$dist/sha256sums.txt") files, not 2"

for arch in amd64 arm64; do
	name="openstack-capacity-exporter-$version.linux-$arch"
	listing="$(tar -tzf "$dist/$name.tar.gz")"
	want="$(printf '%s\n' "$name/" "$name/LICENSE" "$name/README.md" "$name/openstack-capacity-exporter")"
	[[ "$listing" == "$want" ]] || fail "$name.tar.gz holds:"$'\n'"$listing"
	tar -C "$work" -xzf "$dist/$name.tar.gz"
	cmp -s LICENSE "$work/$name/LICENSE" || fail "$name.tar.gz: LICENSE differs from ./LICENSE"
	bin="$work/$name/openstack-capacity-exporter"
	[[ -x "$bin" ]] || fail "$name: the binary is not executable"
	kind="$(file -b "$bin")"
	[[ "$kind" == *"statically linked"* ]] || fail "$name: not static: $kind"
	case "$arch" in
	amd64) [[ "$kind" == *x86-64* ]] || fail "$name: not x86-64: $kind" ;;
	arm64) [[ "$kind" == *aarch64* ]] || fail "$name: not aarch64: $kind" ;;
	esac
	echo "$name: $kind"
done

out="$("$work/openstack-capacity-exporter-$version.linux-amd64/openstack-capacity-exporter" --version 2>&1)"
for want in "version $version " "revision: $revision)" "build date:       $date" "platform:         linux/amd64"; do
	[[ "$out" == *"$want"* ]] || fail "--version lacks \"$want\":"$'\n'"$out"
done
echo "$out" | head -3

# Without git (a source tarball) the stamp falls back instead of failing.
mkdir "$work/src"
git archive HEAD | tar -x -C "$work/src"
GIT_DIR="$work/no-git" make -s -C "$work/src" build >/dev/null
out="$("$work/src/openstack-capacity-exporter" --version 2>&1)"
[[ "$out" == *"version dev (branch: unknown, revision: unknown)"* ]] || fail "without git, --version says:"$'\n'"$out"
echo "$out" | head -1

# The same commit, version and date again: the same tarballs.
release
cmp -s "$work/first.txt" "$dist/sha256sums.txt" || fail "a second make release gave other bytes:"$'\n'"$(diff "$work/first.txt" "$dist/sha256sums.txt")"
echo "check-release: make release verified (checksums, contents, static amd64 and arm64, stamp, fallback without git, reproducible)"
