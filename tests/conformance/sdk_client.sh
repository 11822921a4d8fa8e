#!/usr/bin/env bash
# The official TypeScript SDK's Client over stdio against the real daemon:
# lists, reads, calls, completes and subscribes to everything it offers
# (sdk_client.mjs). Default: the real plugins of the build tree; --fixture:
# only the conformance_fixture plugin, also checking sampling, elicitation,
# progress, logging, cancellation and resource updates. Exit 77 to skip.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${SMCP_BUILD_DIR:-$here/../../build}
daemon=$build/core/schedmcp
plugin_dir=${SMCP_PLUGIN_DIR:-$build/plugins}
if [ "${1:-}" = --fixture ]; then
	plugin_dir=${SMCP_FIXTURE_DIR:-$build/tests/conformance}
fi
# shellcheck source=node-tools.sh
. "$here/node-tools.sh"

[ -x "$daemon" ] || { echo "no daemon at $daemon: build first" >&2; exit 1; }
[ -d "$plugin_dir" ] || { echo "no plugin folder $plugin_dir: build first" >&2; exit 1; }

# What the loader thinks of each plugin, for the log: a refused plugin (an
# untrusted build folder) is an environment problem, said plainly.
"$daemon" --config /dev/null --plugin-dir "$plugin_dir" --no-default-plugins --list-plugins --log-level error 2>&1

node_tools_setup
# shellcheck source=service.sh
. "$here/service.sh"
service_start --config /dev/null --plugin-dir "$plugin_dir" --no-default-plugins --log-level warning || exit 1
"$NODE" "$here/sdk_client.mjs" "$NODE_DIR" "$SMCP_CLIENT_CMD" "$plugin_dir" "$@"
rc=$?
service_stop
exit "$rc"
