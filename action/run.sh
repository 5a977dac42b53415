#!/usr/bin/env bash
# The action's "matrix run" step (or "matrix plan", "matrix install").
#
# COMMAND             run, plan or install
# CONFIG              the config
# PYTHON              `--python` for each of these (spaces or new lines)
# SHARD, SHARDS       `--shard K/N` for a run; how many shards a plan makes
# REPORT_FORMATS      markdown, html, junit: reports beside the results
# BUILD_ONLY          "true": `--build-only`, the builds into ARTIFACTS
# ARTIFACTS           `--artifacts DIR`
# ARGS                more arguments for `matrix run` (split on spaces)
# FAIL_ON_UNEXPECTED  "false": exit 1 (a cell not as expected) passes
# OUTPUT_DIR          where the results and reports go
# ARTIFACT_NAME       the artifact's name (empty: one made from the shard)
#
# A run writes OUTPUT_DIR/results.json and the chosen reports, appends the
# Markdown grid to the job's summary (or, when there is no grid, what
# happened), sets the outputs exit-code, results, artifact-name and upload
# (what the next step uploads), and exits as `matrix run` did. A plan sets
# the output `plan`.
set -uo pipefail
# shellcheck source=action/common.sh
. "$GITHUB_ACTION_PATH/action/common.sh"

meaning() {
  case "$1" in
    0) echo "every cell did what the config expects" ;;
    1) echo "at least one cell did not do what the config expects, or the run was incomplete" ;;
    2) echo "bad config or command line" ;;
    3) echo "the environment is broken (no usable interpreter, no package index)" ;;
    130) echo "interrupted" ;;
    *) echo "unexpected exit status" ;;
  esac
}

# words LIST: the words of LIST (spaces, tabs, commas or new lines between
# them), one per line, never glob-expanded.
words() {
  tr -s ' ,\t' '\n' <<< "$1" | grep -v '^$' || true
}

pythons=()
while IFS= read -r p; do
  pythons+=(--python "$p")
done < <(words "${PYTHON:-}")

case "$COMMAND" in
  install)
    exit 0
    ;;
  plan)
    if ! [[ "${SHARDS:-}" =~ ^[1-9][0-9]*$ ]]; then
      error "command: plan needs shards, a number of shards (got '${SHARDS:-}')"
      exit 2
    fi
    status=0
    plan=$(matrix plan -c "$CONFIG" --shards "$SHARDS" --format github "${pythons[@]}") || status=$?
    output exit-code "$status"
    if [ "$status" -ne 0 ]; then
      error "matrix plan exited $status: $(meaning "$status")"
      exit "$status"
    fi
    echo "$plan"
    output plan "$plan"
    exit 0
    ;;
  run) ;;
  *)
    error "command must be run, plan or install, not '$COMMAND'"
    exit 2
    ;;
esac

args=(run -c "$CONFIG" "${pythons[@]}")
if [ -n "${SHARD:-}" ]; then
  args+=(--shard "$SHARD")
fi
if [ -n "${ARTIFACTS:-}" ]; then
  args+=(--artifacts "$ARTIFACTS")
fi

build_only=false
case "${BUILD_ONLY:-false}" in
  true) build_only=true ;;
  false) ;;
  *)
    error "build-only must be true or false, not '$BUILD_ONLY'"
    exit 2
    ;;
esac
case "${FAIL_ON_UNEXPECTED:-true}" in
  true | false) ;;
  *)
    error "fail-on-unexpected must be true or false, not '$FAIL_ON_UNEXPECTED'"
    exit 2
    ;;
esac

name=${ARTIFACT_NAME:-}
if [ "$build_only" = true ]; then
  if [ -z "${ARTIFACTS:-}" ]; then
    error "build-only needs artifacts, the folder the builds go to"
    exit 2
  fi
  args+=(--build-only)
  name=${name:-abimatrix-builds}
else
  mkdir -p "$OUTPUT_DIR"
  results="$OUTPUT_DIR/results.json"
  grid="$RUNNER_TEMP/abimatrix-grid.md"
  args+=(--json "$results")
  while IFS= read -r format; do
    case "$format" in
      markdown) grid="$OUTPUT_DIR/grid.md" ;;
      html) args+=(--html "$OUTPUT_DIR/grid.html") ;;
      junit) args+=(--junit "$OUTPUT_DIR/junit.xml") ;;
      *)
        error "report-formats: unknown format '$format' (markdown, html or junit; the results JSON is always written)"
        exit 2
        ;;
    esac
  done < <(words "${REPORT_FORMATS:-}")
  args+=(--markdown "$grid")
  if [ -z "$name" ]; then
    name=abimatrix-grid
    if [ -n "${SHARD:-}" ]; then
      name="abimatrix-grid-shard-${SHARD%/*}-of-${SHARD#*/}"
    fi
  fi
fi
if [ -n "${ARGS:-}" ]; then
  read -r -a extra <<< "$ARGS"
  args+=("${extra[@]}")
fi

echo "matrix ${args[*]}"
status=0
matrix "${args[@]}" || status=$?

output exit-code "$status"
output artifact-name "$name"
if [ "$build_only" = true ]; then
  output upload "$ARTIFACTS"
  {
    echo "### abimatrix: builds"
    echo
    echo "\`matrix run --build-only\` exited $status ($(meaning "$status")); the builds are in the artifact \`$name\`."
  } >> "$GITHUB_STEP_SUMMARY"
else
  output upload "$OUTPUT_DIR"
  if [ -f "$results" ]; then
    output results "$results"
  fi
  if [ -f "$grid" ]; then
    cat "$grid" >> "$GITHUB_STEP_SUMMARY"
  else
    {
      echo "### abimatrix"
      echo
      echo "\`matrix run\` exited $status ($(meaning "$status")) and wrote no grid: its log says why."
    } >> "$GITHUB_STEP_SUMMARY"
  fi
fi

if [ "$status" -eq 1 ] && [ "$FAIL_ON_UNEXPECTED" = false ]; then
  echo "::notice title=abimatrix::matrix run exited 1 ($(meaning 1)); fail-on-unexpected is false, so this step passes"
  exit 0
fi
if [ "$status" -ne 0 ]; then
  error "matrix run exited $status: $(meaning "$status")"
fi
exit "$status"
