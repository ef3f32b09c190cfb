#!/usr/bin/env bash
# Builds the rostersync .deb and .rpm into OUTDIR with nfpm (pinned in
# go.mod as a go tool): the binary, the hardened unit (run as the system
# user the package creates), the settings template and shell completion.
#
#   bash systemd/package.sh OUTDIR [ARCH]     # ARCH: amd64 (default), arm64
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: systemd/package.sh OUTDIR [ARCH]}
arch=${2:-$(go env GOARCH)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT

# The version: the tag when the commit has one, else the commit.
if v=$(git describe --tags --exact-match 2>/dev/null); then
	version=${v#v}
else
	commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
	dirty=""
	git diff --quiet HEAD 2>/dev/null || dirty="+dirty"
	version="0.0.0~git$(date -u +%Y%m%d%H%M%S).${commit}${dirty}"
fi

CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -buildvcs=auto \
	-ldflags "-s -w -X main.version=${version}" -o "$build/rostersync" ./cmd/rostersync
go run ./cmd/rostersync completion bash >"$build/rostersync.bash"
go run ./cmd/rostersync completion zsh >"$build/_rostersync"
# The packaged unit: the binary where packages put it, and the package's
# system user (DynamicUser= uses a static user of that name when it exists).
sed -e 's|^ExecStart=/usr/local/bin/rostersync|ExecStart=/usr/bin/rostersync|' \
	-e 's|^DynamicUser=yes$|DynamicUser=yes\nUser=rostersync\nGroup=rostersync|' \
	systemd/rostersync.service >"$build/rostersync.service"
grep -q '^ExecStart=/usr/bin/rostersync serve$' "$build/rostersync.service"

for fmt in deb rpm; do
	VERSION=$version ARCH=$arch BUILD=$build go tool nfpm pkg -f systemd/nfpm.yaml -p "$fmt" -t "$out/" >/dev/null
done
ls "$out"/rostersync*
