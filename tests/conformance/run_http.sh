#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance,
# `server --suite all`) straight against the service's Streamable HTTP
# endpoint, no bridge: `schedmcp serve` with only the conformance_fixture
# plugin, HTTP on a loopback port. Every server scenario must pass, the
# DNS-rebinding ones included: there is no expected-failures list here.
#
# The suite cannot send an Authorization header, so this service runs with
# http_auth = none, which the daemon allows on a loopback address only and
# logs at start (checked below); tests/http/test_http.py covers the tokens.
#
# Environment: SMCP_BUILD_DIR, SMCP_FIXTURE_DIR, SMCP_NODE_DIR,
# CONFORMANCE_ARGS (as run.sh). Exits 0 (all passed), 1, or 77 (skip).
# shellcheck disable=SC2016,SC2317  # node programs in single quotes; cleanup runs from traps
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${SMCP_BUILD_DIR:-$here/../../build}
fixture_dir=${SMCP_FIXTURE_DIR:-$build/tests/conformance}
daemon=$build/core/schedmcp
# shellcheck source=node-tools.sh
. "$here/node-tools.sh"

[ -x "$daemon" ] || { echo "no daemon at $daemon: build first" >&2; exit 1; }
[ -f "$fixture_dir/conformance_fixture.so" ] ||
	{ echo "no conformance_fixture.so in $fixture_dir: build first" >&2; exit 1; }
ldd "$daemon" 2>/dev/null | grep -q libmicrohttpd ||
	node_tools_skip "this schedmcp has no HTTP transport"

node_tools_setup
suite=$NODE_DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js

work=$(mktemp -d "${TMPDIR:-/tmp}/smcp-conformance-http.XXXXXX")
svc_pid=
suite_pid=
cleanup() {
	[ -z "$suite_pid" ] || kill -TERM "$suite_pid" 2>/dev/null
	if [ -n "$svc_pid" ]; then
		kill -TERM "$svc_pid" 2>/dev/null
		wait "$svc_pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# port 0 would do for the daemon, but the suite needs the number: ask the
# kernel for a free one, and retry if another test took it meanwhile
for attempt in 1 2 3; do
	port=$(node_free_port)
	[ -n "$port" ] || { echo "cannot find a free TCP port" >&2; exit 1; }
	# --config /dev/null: no /etc/schedmcp config on this machine changes the run
	"$daemon" serve --config /dev/null --plugin-dir "$fixture_dir" --no-default-plugins \
		--socket "$work/run/mcp.sock" --state-dir "$work/state" --log-level info \
		--set core.http_port="$port" --set core.http_auth=none \
		</dev/null >/dev/null 2>"$work/service.log" &
	svc_pid=$!
	for i in $(seq 300); do
		grep -q "serving MCP over HTTP" "$work/service.log" && break 2
		kill -0 "$svc_pid" 2>/dev/null || break
		sleep 0.1
	done
	wait "$svc_pid" 2>/dev/null
	svc_pid=
	grep -q "Address already in use" "$work/service.log" || break
done
if [ -z "$svc_pid" ]; then
	echo "the service did not start:" >&2
	cat "$work/service.log" >&2
	exit 1
fi
# auth off is a choice the log must show
grep -q "NO AUTHENTICATION: http_auth = none, loopback only" "$work/service.log" || {
	echo "the service did not log that authentication is off" >&2
	cat "$work/service.log" >&2
	exit 1
}

start_ms=$(($(date +%s%N) / 1000000))
# shellcheck disable=SC2086
"$NODE" "$suite" server --url "http://127.0.0.1:$port/mcp" --suite all -o "$work/results" \
	${CONFORMANCE_ARGS:-} >"$work/suite.log" 2>&1 &
suite_pid=$!
wait "$suite_pid"
rc=$?
suite_pid=
end_ms=$(($(date +%s%N) / 1000000))

# an empty baseline: every scenario must pass, warnings count as failures
conformance_report "$work/results" /dev/null $((end_ms - start_ms)) \
	"Streamable HTTP, schedmcp serve on port $port" service "$work/service.log"
# the service must have survived the suite
kill -0 "$svc_pid" 2>/dev/null || { echo "the service died during the suite" >&2; rc=1; }
exit "$rc"
