# shellcheck shell=bash
# What the action's scripts share: errors as GitHub annotations, and step
# outputs written to $GITHUB_OUTPUT.

# error MESSAGE: an error annotation (and the message in the log), escaped
# as GitHub's workflow commands require, so that no part of MESSAGE (an
# input's value) can end it or start another command.
error() {
  local message=$*
  message=${message//'%'/'%25'}
  message=${message//$'\r'/'%0D'}
  message=${message//$'\n'/'%0A'}
  echo "::error title=abimatrix::$message"
}

# output NAME VALUE: a step output; VALUE may span lines (written with a
# delimiter no line of it can be).
output() {
  local name=$1 value=$2 delimiter
  delimiter="ABIMATRIX_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  {
    echo "$name<<$delimiter"
    echo "$value"
    echo "$delimiter"
  } >> "$GITHUB_OUTPUT"
}
