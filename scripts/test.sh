#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs every test of the workspace.
# Tests never skip: one whose tool is missing fails and names it, so install first.
set -euo pipefail
cd "$(dirname "$0")/.."

# strace: the durability test traces the server's fdatasync calls.
if ! command -v strace >/dev/null 2>&1; then
  echo "installing strace (apt-get)..."
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq strace) >/dev/null
  else
    sudo sh -c 'apt-get update -qq && apt-get install -y -qq strace' >/dev/null
  fi
fi

# python3 with docs/requirements.txt: the independent bundle checker docs/verify_bundle.py.
if ! python3 -c 'import blake3, nacl' >/dev/null 2>&1; then
  echo "installing docs/requirements.txt (pip)..."
  python3 -m pip install -q -r docs/requirements.txt ||
    python3 -m pip install -q --break-system-packages -r docs/requirements.txt
fi

exec cargo test --workspace --locked --no-fail-fast "$@"
