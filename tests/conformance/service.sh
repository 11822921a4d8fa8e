# shellcheck shell=bash
# Sourced by the conformance scripts. With SMCP_VIA_SERVICE=1 the clients do
# not start schedmcp themselves: service_start starts one service (schedmcp
# serve) with the given arguments, and sets SMCP_CLIENT_CMD to a command that
# ignores its arguments and bridges to that service, which is what an MCP
# client's `schedmcp` becomes once a service runs (issue 13). Without it,
# SMCP_CLIENT_CMD is the daemon itself. service_stop ends the service.

service_start() {
	local dir sock i
	if [ "${SMCP_VIA_SERVICE:-0}" != 1 ]; then
		SMCP_CLIENT_CMD=$daemon
		return 0
	fi
	dir=$(mktemp -d "${TMPDIR:-/tmp}/smcp-service.XXXXXX")
	sock=$dir/run/mcp.sock
	"$daemon" serve --socket "$sock" --state-dir "$dir/state" "$@" </dev/null >/dev/null \
		2>"$dir/service.log" &
	SMCP_SERVICE_PID=$!
	SMCP_SERVICE_DIR=$dir
	for i in $(seq 300); do
		[ -S "$sock" ] && "$daemon" status --socket "$sock" 2>/dev/null | grep -q '^bridged' && break
		if ! kill -0 "$SMCP_SERVICE_PID" 2>/dev/null || [ "$i" = 300 ]; then
			echo "the service did not start:" >&2
			cat "$dir/service.log" >&2
			return 1
		fi
		sleep 0.1
	done
	printf '#!/bin/sh\n# the arguments shaped the service; a bridge takes none\nexec %s --socket %s --log-level warning\n' \
		"$daemon" "$sock" >"$dir/bridge"
	chmod 755 "$dir/bridge"
	SMCP_CLIENT_CMD=$dir/bridge
	echo "via the service on $sock (pid $SMCP_SERVICE_PID)"
}

service_stop() {
	[ -n "${SMCP_SERVICE_PID:-}" ] || return 0
	kill -TERM "$SMCP_SERVICE_PID" 2>/dev/null
	wait "$SMCP_SERVICE_PID" 2>/dev/null
	rm -rf "$SMCP_SERVICE_DIR"
	SMCP_SERVICE_PID=
}
