#!/usr/bin/env bash
# The action's "Install abimatrix" step: puts `matrix` (alone) on PATH.
#
# INSTALL      auto, release or source (the action's `install` input)
# ACTION_REF   the ref the action is used at (github.action_ref)
# TOOL_PYTHON  the Python that gets a virtual environment for abimatrix
#
# release installs the version written in the action's own Cargo.toml
# from the package index (PyPI, or whatever pip is configured to use);
# source builds the action's own checkout with pip (maturin, Rust). auto
# means release at a version tag (v0.1.0) and source otherwise. Only a
# folder holding the one `matrix` link is added to PATH, so the
# environment's python and pip do not shadow the grid's.
set -euo pipefail
# shellcheck source=action/common.sh
. "$GITHUB_ACTION_PATH/action/common.sh"

mode=${INSTALL:-auto}
if [ "$mode" = auto ]; then
  if [[ "${ACTION_REF:-}" =~ ^v[0-9]+(\.[0-9]+)*$ ]]; then
    mode=release
  else
    mode=source
  fi
fi

venv="$RUNNER_TEMP/abimatrix-venv"
# Without a pip of its own (ensurepip takes seconds): the tool Python's pip
# installs into it, running under the environment's python (pip --python).
# Run that way, pip leaves a copy of its CA bundle in TMPDIR: the runner's
# temporary folder, emptied with the job.
"$TOOL_PYTHON" -m venv --without-pip "$venv"
pip=(env TMPDIR="$RUNNER_TEMP" "$TOOL_PYTHON" -m pip --python "$venv/bin/python" install --quiet --disable-pip-version-check)
case "$mode" in
  release)
    version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$GITHUB_ACTION_PATH/Cargo.toml" | head -n 1)
    if [ -z "$version" ]; then
      error "no version in $GITHUB_ACTION_PATH/Cargo.toml"
      exit 1
    fi
    echo "Installing abimatrix $version from the package index"
    "${pip[@]}" "abimatrix==$version"
    ;;
  source)
    if ! command -v cargo > /dev/null; then
      error "building abimatrix from source (install: $INSTALL, ref '${ACTION_REF:-}') needs Rust: cargo is not on PATH. Use the action at a release tag (@vX.Y.Z) or set up Rust first."
      exit 1
    fi
    echo "Building abimatrix from $GITHUB_ACTION_PATH"
    "${pip[@]}" "$GITHUB_ACTION_PATH"
    ;;
  *)
    error "install must be auto, release or source, not '$mode'"
    exit 2
    ;;
esac

bin="$RUNNER_TEMP/abimatrix-bin"
mkdir -p "$bin"
ln -sf "$venv/bin/matrix" "$bin/matrix"
echo "$bin" >> "$GITHUB_PATH"
version=$("$bin/matrix" --version)
echo "$version"
output version "${version#matrix }"
