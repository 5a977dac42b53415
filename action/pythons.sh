#!/usr/bin/env bash
# The action's "Pythons the grid needs" step: sets the output `versions`,
# one per line as actions/setup-python takes them (empty: nothing to set
# up).
#
# COMMAND  run, plan or install: only a run needs Pythons
# CONFIG   the config
# PYTHON   the `python` input: when given, its versions
# SHARD    "K/N" or empty
#
# Without PYTHON, the Pythons are those `matrix plan` lists for the shard
# (or for the whole grid). Only versions ("3.12") are set up: a range, a
# path or a command in the config must already be on the runner. A config
# `matrix plan` cannot read sets up nothing: the run step reports it.
set -euo pipefail
# shellcheck source=action/common.sh
. "$GITHUB_ACTION_PATH/action/common.sh"

if [ "$COMMAND" != run ]; then
  output versions ""
  exit 0
fi

if [ -n "$PYTHON" ]; then
  wanted=$(tr -s ' ,\t' '\n' <<< "$PYTHON")
else
  shards=1
  if [ -n "$SHARD" ]; then
    shards=${SHARD#*/}
  fi
  if ! plan=$(matrix plan -c "$CONFIG" --shards "$shards" --format github); then
    echo "matrix plan could not read $CONFIG: no Python is set up (the run reports why)"
    output versions ""
    exit 0
  fi
  wanted=$(jq -r --arg shard "$SHARD" \
    '.include[] | select($shard == "" or .shard == $shard) | .python // [] | .[]' <<< "$plan")
fi
# In their first order, each once.
versions=$(grep -E '^[0-9]' <<< "$wanted" | awk '!seen[$0]++' || true)
echo "Pythons to set up: ${versions:-none}"
output versions "$versions"
