#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance,
# `server --suite all`) against the real daemon with only the
# conformance_fixture plugin loaded. The suite speaks Streamable HTTP only,
# so supergateway (--stateful) bridges it to schedmcp on stdio, one daemon per
# session. Exits with the suite's code (0: everything passed but the
# HTTP-layer scenarios of expected-failures.yml), 77 to skip.
#
# Environment: SMCP_BUILD_DIR (build tree), SMCP_FIXTURE_DIR (folder holding
# only conformance_fixture.so; default BUILD/tests/conformance),
# SMCP_NODE_DIR (cache for the Node.js tools), CONFORMANCE_ARGS (extra
# arguments, e.g. "--scenario ping" to run one scenario).
# shellcheck disable=SC2016,SC2317  # node programs in single quotes; cleanup runs from traps
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${SMCP_BUILD_DIR:-$here/../../build}
fixture_dir=${SMCP_FIXTURE_DIR:-$build/tests/conformance}
daemon=$build/core/schedmcp
# shellcheck source=node-tools.sh
. "$here/node-tools.sh"
# shellcheck source=service.sh
. "$here/service.sh"

[ -x "$daemon" ] || { echo "no daemon at $daemon: build first" >&2; exit 1; }
[ -f "$fixture_dir/conformance_fixture.so" ] ||
	{ echo "no conformance_fixture.so in $fixture_dir: build first" >&2; exit 1; }
command -v setsid >/dev/null || node_tools_skip "setsid (util-linux) is not installed"

node_tools_setup

# The loader refuses plugins that others could swap (not owned by root or by
# us, or group/other-writable on the way to /). That is the build folder's
# environment, not a conformance result: say so and skip.
state=$("$daemon" --config /dev/null --plugin-dir "$fixture_dir" --no-default-plugins --list-plugins --json \
	--log-level error 2>/dev/null | "$NODE" -e '
let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
  const p = JSON.parse(s).plugins.find((x) => x.name === "conformance_fixture");
  console.log(p ? `${p.state} ${p.reason ?? ""}` : "missing");
});')
case "$state" in
loaded*) ;;
refused*) node_tools_skip "the loader refused $fixture_dir/conformance_fixture.so: ${state#refused }" ;;
*) echo "conformance_fixture did not load: $state" >&2; exit 1 ;;
esac
gateway=$NODE_DIR/node_modules/supergateway/dist/index.js
suite=$NODE_DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js

work=$(mktemp -d "${TMPDIR:-/tmp}/smcp-conformance.XXXXXX")
gw_pid=
gw_stdin=
suite_pid=
# Every process of this run carries this mark in its environment, so the
# sweep at the end finds the daemons supergateway started in sessions of
# their own (spawn(..., {detached: true})) even if the gateway died first.
mark="SMCP_CONFORMANCE_RUN=$$.$RANDOM"

marked_pids() {
	local f
	# unreadable entries (gone, or not ours) are fine
	grep -lzx -- "$mark" /proc/[0-9]*/environ 2>/dev/null | while read -r f; do
		f=${f#/proc/}
		echo "${f%/environ}"
	done
}

cleanup() {
	local pids i
	[ -z "$suite_pid" ] || kill -TERM "$suite_pid" 2>/dev/null
	[ -z "$gw_stdin" ] || exec {gw_stdin}>&-
	if [ -n "$gw_pid" ]; then
		# supergateway ends its children on SIGTERM; give it a moment
		kill -TERM -- "-$gw_pid" 2>/dev/null
		for i in $(seq 50); do
			kill -0 "$gw_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL -- "-$gw_pid" 2>/dev/null
	fi
	pids=$(marked_pids)
	if [ -n "$pids" ]; then
		# shellcheck disable=SC2086
		kill -TERM $pids 2>/dev/null
		sleep 0.5
		pids=$(marked_pids)
		# shellcheck disable=SC2086
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null
	fi
	service_stop
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

port=$(node_free_port)
[ -n "$port" ] || { echo "cannot find a free TCP port" >&2; exit 1; }

# --config /dev/null: no /etc/schedmcp config on this machine changes the run
service_start --config /dev/null --plugin-dir "$fixture_dir" --no-default-plugins --log-level warning || exit 1
cmd="$SMCP_CLIENT_CMD --config /dev/null --plugin-dir $fixture_dir --no-default-plugins --log-level warning"
# supergateway stops (and stops its daemons) when its stdin closes: give it a
# pipe whose only writer is this shell, so even a SIGKILLed run leaves nothing
mkfifo "$work/gateway.stdin"
env "$mark" setsid "$NODE" "$gateway" --stdio "$cmd" \
	--outputTransport streamableHttp --stateful --sessionTimeout 120000 \
	--port "$port" --logLevel info <"$work/gateway.stdin" >"$work/gateway.log" 2>&1 &
gw_pid=$!
exec {gw_stdin}>"$work/gateway.stdin"
for i in $(seq 100); do
	grep -q "Listening on port" "$work/gateway.log" 2>/dev/null && break
	if ! kill -0 "$gw_pid" 2>/dev/null || [ "$i" = 100 ]; then
		echo "supergateway did not start:" >&2
		cat "$work/gateway.log" >&2
		exit 1
	fi
	sleep 0.1
done

start_ms=$(($(date +%s%N) / 1000000))
# in the background so a TERM from meson's timeout is handled at once
# shellcheck disable=SC2086
"$NODE" "$suite" server --url "http://127.0.0.1:$port/mcp" --suite all \
	--expected-failures "$here/expected-failures.yml" -o "$work/results" \
	${CONFORMANCE_ARGS:-} >"$work/suite.log" 2>&1 {gw_stdin}>&- &
suite_pid=$!
wait "$suite_pid"
rc=$?
suite_pid=
end_ms=$(($(date +%s%N) / 1000000))

conformance_report "$work/results" "$here/expected-failures.yml" $((end_ms - start_ms)) \
	"supergateway on port $port, one schedmcp per session" supergateway "$work/gateway.log"
exit "$rc"
