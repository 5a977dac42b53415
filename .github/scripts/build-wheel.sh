#!/usr/bin/env bash
# Builds one release wheel and checks it, as .github/workflows/release.yml
# does for each Linux target (and tests/integration/packaging.rs does here):
#
#   .github/scripts/build-wheel.sh TARGET COMPATIBILITY OUT
#   .github/scripts/build-wheel.sh x86_64-unknown-linux-gnu manylinux2014 dist
#
# maturin builds the `matrix` binary for the Rust TARGET with zig as the
# linker (zig links against the glibc 2.17 or musl that COMPATIBILITY
# names, whatever this machine's glibc is) into OUT. auditwheel then reads
# what the binary really links, and the build fails unless the tag it
# computes is the one the wheel's name claims: a wheel must install only
# where it runs. Needs Rust with TARGET added (`rustup target add TARGET`)
# and maturin, ziglang and auditwheel (.github/release-requirements.txt).
set -euo pipefail

if [ "$#" -ne 3 ]; then
  echo "usage: $0 TARGET COMPATIBILITY OUT (e.g. x86_64-unknown-linux-gnu manylinux2014 dist)" >&2
  exit 2
fi
target=$1 compatibility=$2 out=$3
root=$(cd "$(dirname "$0")/../.." && pwd)

case "$compatibility" in
  manylinux2014) expected=manylinux_2_17 ;;
  manylinux_*|musllinux_*) expected=$compatibility ;;
  *)
    echo "error: unknown compatibility '$compatibility' (manylinux2014, manylinux_X_Y or musllinux_X_Y)" >&2
    exit 2
    ;;
esac
arch=${target%%-*}

# A folder of its own, so that the wheel found below is this build's.
mkdir -p "$out"
build=$(mktemp -d "${TMPDIR:-/tmp}/abimatrix-wheel.XXXXXX")
trap 'rm -rf "$build"' EXIT

maturin build --release --locked --zig \
  --manifest-path "$root/Cargo.toml" \
  --target "$target" --compatibility "$compatibility" \
  --out "$build"

wheels=("$build"/*.whl)
if [ "${#wheels[@]}" -ne 1 ] || [ ! -f "${wheels[0]}" ]; then
  echo "error: maturin was expected to build one wheel in $build: ${wheels[*]}" >&2
  exit 1
fi
wheel=${wheels[0]}

auditwheel show "$wheel"
# The platform tag auditwheel computes from the binary's symbols and
# libraries, for the binary's own architecture.
found=$(auditwheel show --json "$wheel" 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["overall_tag"])')
if [ "$found" != "${expected}_${arch}" ]; then
  echo "error: $(basename "$wheel") is built for ${expected}_${arch}, but auditwheel says what it links needs $found" >&2
  exit 1
fi
case "$(basename "$wheel")" in
  *"${expected}_${arch}"*) ;;
  *)
    echo "error: $(basename "$wheel") is not tagged ${expected}_${arch}" >&2
    exit 1
    ;;
esac
mv "$wheel" "$out/"
echo "built $out/$(basename "$wheel") (auditwheel: $found)"
