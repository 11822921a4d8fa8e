#!/usr/bin/env bash
# The sched_ext lab: prove schedmcp's sched_ext features on a real sched_ext
# kernel in a qemu (TCG) VM.
#
#   1. fetch Debian unstable's current kernel (resolved at run time, private
#      apt state: the system's apt sources and lists are never touched),
#      cached in ${XDG_CACHE_HOME:-~/.cache}/schedmcp-scxlab
#   2. boot it once to copy its BTF out (virtio-serial) and generate the
#      vmlinux.h the test schedulers need (cached per kernel version)
#   3. build the test schedulers (scx_*.bpf.c) and their loader against it
#   4. pack an initramfs: busybox, the daemon with every built plugin and
#      the shared libraries ldd names, the schedulers, scxlab-client and
#      scxlab-load
#   5. boot it; init.sh runs scxlab-client (the scenario, over MCP), whose
#      output comes back on a virtio-serial port and is printed here
#
# Exit 0 when every check passed or skipped, 1 on a failure, 77 (skip) only
# when qemu cannot run at all or the kernel package cannot be fetched.
#
# usage: scxlab.sh --daemon PATH --client PATH --load PATH [--plugin PATH.so]...
#        (meson passes exactly what it built; without --plugin, every
#        BUILD/plugins/*/*.so next to the daemon's build tree is used)
#
# Environment:
#   SCXLAB_CACHE          cache folder (default ${XDG_CACHE_HOME:-$HOME/.cache}/schedmcp-scxlab)
#   SCXLAB_MIRROR         Debian mirror (default http://deb.debian.org/debian)
#   SCXLAB_REFRESH_HOURS  re-resolve unstable's kernel when the cached index is older (24)
#   SCXLAB_KERNEL         use this bzImage instead of fetching one (its BTF is still read)
#   SCXLAB_SCHEDULERS     which test schedulers, in order (default "fifo vtime pcpu")
#   SCXLAB_COLLECT        seconds of collection under each scheduler (default 5)
#   SCXLAB_SMP, SCXLAB_MEM  guest CPUs (2) and MiB (1024)
#   SCXLAB_TIMEOUT        seconds the scenario boot may take (default 480)
#   SCXLAB_TCG_THREAD     single (default) or multi: multi-threaded TCG is about twice
#                         as fast, but a guest died here with "Oops: int3" in
#                         update_rq_clock (a static-key text_poke) while a scheduler
#                         enabled; single-threaded never did
#   SCXLAB_EXCLUDE        plugins to leave out of the guest, e.g. "sched_latency"
#                         (to see the DSQ checks SKIP with the reason)
#   SCXLAB_KEEP=1         keep the work folder's guest tree for inspection
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() {
	echo "usage: scxlab.sh --daemon PATH --client PATH --load PATH [--plugin PATH.so]..." >&2
	exit 64
}
daemon=
client=
loadgen=
plugin_files=()
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || usage
	case "$1" in
	--daemon) daemon=$2 ;;
	--client) client=$2 ;;
	--load) loadgen=$2 ;;
	--plugin) plugin_files+=("$2") ;;
	*) usage ;;
	esac
	shift 2
done
[ -n "$daemon" ] && [ -n "$client" ] && [ -n "$loadgen" ] || usage
build=$(cd "$(dirname "$daemon")/.." && pwd) # the build tree (for the work folder)
if [ ${#plugin_files[@]} -eq 0 ]; then
	for so in "$build"/plugins/*/*.so; do [ -e "$so" ] && plugin_files+=("$so"); done
fi

cache=${SCXLAB_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/schedmcp-scxlab}
mirror=${SCXLAB_MIRROR:-http://deb.debian.org/debian}
refresh_h=${SCXLAB_REFRESH_HOURS:-24}
schedulers=${SCXLAB_SCHEDULERS:-fifo vtime pcpu}
collect=${SCXLAB_COLLECT:-5}
smp=${SCXLAB_SMP:-2}
mem=${SCXLAB_MEM:-1024}
budget=${SCXLAB_TIMEOUT:-480}
tcg_thread=${SCXLAB_TCG_THREAD:-single}
work=$build/tests/scxlab/lab
qemu=qemu-system-x86_64

t_begin=$(date +%s.%N)
declare -a timings=()
stamp=$t_begin
lap() { # lap NAME: time since the previous lap
	local now
	now=$(date +%s.%N)
	timings+=("$(awk -v a="$now" -v b="$stamp" -v n="$1" 'BEGIN { printf "%-22s %6.1f s", n, a - b }')")
	stamp=$now
}
say() { echo "scxlab: $*"; }
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

# ------------------------------------------------------------ 0. tools
command -v "$qemu" >/dev/null 2>&1 ||
	skip "$qemu is not installed: qemu cannot run (apt-get install qemu-system-x86)"
qv=$("$qemu" -version 2>&1) || skip "$qemu cannot run at all: $qv"
say "${qv%%$'\n'*}"
missing=()
for t in busybox cpio gzip clang bpftool gcc ldd awk flock apt-get apt-cache dpkg-deb; do
	command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || missing+=("$t")
done
[ ${#missing[@]} -eq 0 ] ||
	fail "missing tools: ${missing[*]} (scripts/deps test installs busybox-static, cpio, clang, bpftool ...)"
bpftool=$(command -v bpftool || echo /usr/sbin/bpftool)
busybox=$(command -v busybox)
if ldd "$busybox" >/dev/null 2>&1; then
	fail "$busybox is dynamically linked; the guest needs busybox-static (apt-get install busybox-static)"
fi
[ -x "$daemon" ] || fail "no daemon at $daemon (build first)"
mkdir -p "$cache" || fail "cannot create the cache folder $cache"
exec 9>"$cache/lock"
flock 9 # one lab at a time per cache

# ------------------------------------------------ 1. unstable's kernel
aptdir=$cache/apt
mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/etc" "$aptdir/state"
[ -e "$aptdir/state/status" ] || : >"$aptdir/state/status" # (touching it would void apt's cache)
echo "deb [arch=amd64] $mirror sid main" >"$aptdir/etc/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$aptdir/etc/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
	-o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=/dev/null"
	-o "Dir::State=$aptdir/state" -o "Dir::State::Lists=$aptdir/lists"
	-o "Dir::State::status=$aptdir/state/status" -o "Dir::Cache=$aptdir/cache"
	-o "APT::Sandbox::User=$(id -un)" -o "Acquire::Languages=none"
	-o "Acquire::http::Timeout=30" -o "Acquire::Retries=2" -o "APT::Get::List-Cleanup=0")

kver=
kernel=
if [ -n "${SCXLAB_KERNEL:-}" ]; then
	kernel=$SCXLAB_KERNEL
	[ -r "$kernel" ] || fail "SCXLAB_KERNEL=$kernel is not readable"
	kver=custom-$(sha256sum "$kernel" | cut -c1-12)
	mkdir -p "$cache/kernel/$kver"
	say "kernel: $kernel (SCXLAB_KERNEL)"
else
	offline=false
	updated=false
	# the stamp says when the index was last refreshed from this mirror
	if [ -z "$(find "$aptdir/updated" -newermt "-$refresh_h hours" 2>/dev/null)" ] ||
		[ "$(cat "$aptdir/updated" 2>/dev/null)" != "$mirror" ]; then
		updated=true
		say "resolving Debian unstable's kernel ($mirror, private apt state in $aptdir)"
		# apt-get update exits 0 on some fetch failures: look at what it said
		if upd=$(apt-get "${apt_opts[@]}" -qq update 2>&1) &&
			! grep -qE 'Failed to fetch|failed to download|^E:' <<<"$upd"; then
			echo "$mirror" >"$aptdir/updated"
		else
			offline=true
			say "apt-get update failed: $(echo "$upd" | grep -E '^(E|W|Err):' | head -3 | tr '\n' ' ')"
		fi
	fi
	if ! $updated && [ -r "$cache/kernel/current" ] &&
		[ -r "$cache/kernel/$(cat "$cache/kernel/current")/vmlinuz" ]; then
		# resolved when the index was last refreshed (SCXLAB_REFRESH_HOURS)
		kver=$(cat "$cache/kernel/current")
		say "unstable's kernel as resolved within the last ${refresh_h} h: $kver"
	elif ! $offline; then
		img=$(apt-cache "${apt_opts[@]}" depends linux-image-amd64 2>/dev/null |
			awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
		if [ -n "$img" ]; then
			kver=${img#linux-image-}
			pkg=$(apt-cache "${apt_opts[@]}" depends "$img" 2>/dev/null |
				awk '$1 == "Depends:" && $2 ~ /^linux-binary-/ { print $2; exit }')
			[ -n "$pkg" ] || pkg=$img # older layout: the image package has vmlinuz
			base=$(apt-cache "${apt_opts[@]}" depends "$img" 2>/dev/null |
				awk '$1 == "Depends:" && $2 ~ /^linux-base-[0-9]/ { print $2; exit }')
		else
			offline=true
			say "linux-image-amd64 not found in the index"
		fi
	fi
	if $offline || [ -z "$kver" ]; then
		if [ -r "$cache/kernel/current" ] && [ -r "$cache/kernel/$(cat "$cache/kernel/current")/vmlinuz" ]; then
			kver=$(cat "$cache/kernel/current")
			say "cannot reach the archive: using the cached kernel $kver"
		else
			skip "cannot fetch Debian unstable's kernel package (no network? $mirror) and none is cached in $cache"
		fi
	fi
	kdir=$cache/kernel/$kver
	if [ ! -r "$kdir/vmlinuz" ]; then
		say "downloading $pkg${base:+ and $base}"
		tmp=$(mktemp -d "$cache/dl.XXXXXX")
		if ! (cd "$tmp" && apt-get "${apt_opts[@]}" -qq download "$pkg" ${base:+"$base"} >/dev/null 2>&1 ||
			apt-get "${apt_opts[@]}" -qq download "$pkg" >/dev/null 2>&1); then
			rm -rf "$tmp"
			skip "cannot download $pkg from $mirror (no network?)"
		fi
		for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/x" || fail "dpkg-deb -x $deb failed"; done
		vmlinuz=$(find "$tmp/x" \( -path '*/modules/*/vmlinuz' -o -name "vmlinuz-$kver" \) | head -1)
		[ -n "$vmlinuz" ] || fail "no vmlinuz in $pkg"
		mkdir -p "$kdir.new"
		cp "$vmlinuz" "$kdir.new/vmlinuz"
		config=$(find "$tmp/x" \( -path '*/modules/*/config' -o -name "config-$kver" \) | head -1)
		[ -n "$config" ] && cp "$config" "$kdir.new/config"
		rm -rf "$tmp" "$kdir"
		mv "$kdir.new" "$kdir"
		# keep this kernel and the one before it
		ls -1dt "$cache"/kernel/*/ 2>/dev/null | tail -n +3 | xargs -r rm -rf
	fi
	echo "$kver" >"$cache/kernel/current"
	kernel=$kdir/vmlinuz
	say "kernel: Debian unstable $kver ($kernel)"
	if [ -r "$kdir/config" ] && ! grep -q '^CONFIG_SCHED_CLASS_EXT=y' "$kdir/config"; then
		fail "Debian unstable's kernel $kver is built without CONFIG_SCHED_CLASS_EXT"
	fi
fi
kdir=$cache/kernel/$kver
lap "kernel"

# ------------------------------------------------------------- qemu
run_qemu() { # run_qemu TIMEOUT INITRD CONSOLE APPEND PORTNAME PORTFILE
	timeout -k 5 "$1" "$qemu" -accel "tcg,thread=$tcg_thread" -cpu max -smp "$smp" -m "$mem" \
		-kernel "$kernel" -initrd "$2" -append "console=ttyS0 quiet panic=-1 $4" \
		-display none -monitor none -serial "file:$3" -no-reboot \
		-device virtio-serial-pci -chardev "file,id=c1,path=$6" \
		-device "virtserialport,chardev=c1,name=$5" 2>"$3.stderr"
}

pack() { # pack DIR OUT
	(cd "$1" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1 >"$2")
}

# ----------------------------------------- 2. the guest kernel's BTF
rm -rf "$work"
mkdir -p "$work"
if [ ! -s "$kdir/vmlinux.h" ] || [ ! -s "$kdir/vmlinux.btf" ]; then
	say "first boot of $kver: copying its BTF out"
	r=$work/btf-root
	mkdir -p "$r/bin" "$r/dev" "$r/proc" "$r/sys"
	cp "$busybox" "$r/bin/busybox"
	install -m 0755 "$here/btf-init.sh" "$r/init"
	pack "$r" "$work/btf-initrd.gz"
	rm -f "$work/vmlinux.btf"
	run_qemu 180 "$work/btf-initrd.gz" "$work/btf-console.log" "" btf "$work/vmlinux.btf"
	rc=$?
	if [ ! -s "$work/vmlinux.btf" ]; then
		if [ $rc -ne 0 ] && [ ! -s "$work/btf-console.log" ]; then
			skip "qemu cannot run at all (exit $rc): $(head -c 400 "$work/btf-console.log.stderr")"
		fi
		echo "---- console ----"
		tail -n 40 "$work/btf-console.log"
		fail "the guest did not copy its BTF out (qemu exit $rc)"
	fi
	"$bpftool" btf dump file "$work/vmlinux.btf" format c >"$work/vmlinux.h" ||
		fail "bpftool cannot read the guest's BTF"
	rm -f "$kdir/kfuncs"
	mv "$work/vmlinux.btf" "$kdir/vmlinux.btf"
	mv "$work/vmlinux.h" "$kdir/vmlinux.h"
	say "vmlinux.h from the guest's BTF: $(wc -l <"$kdir/vmlinux.h") lines"
fi
cp "$kdir/vmlinux.h" "$work/vmlinux.h"
lap "guest BTF"

# --------------------------------------------- 3. the test schedulers
[ -s "$kdir/kfuncs" ] ||
	"$bpftool" btf dump file "$kdir/vmlinux.btf" | grep -o "FUNC 'scx_bpf_[a-z_0-9]*'" >"$kdir/kfuncs"
btf_funcs=$(cat "$kdir/kfuncs")
kfunc_flags=()
if grep -q "'scx_bpf_dsq_insert'" <<<"$btf_funcs"; then
	say "guest kfuncs: scx_bpf_dsq_insert* (6.13+ names)"
elif grep -q "'scx_bpf_dispatch'" <<<"$btf_funcs"; then
	kfunc_flags=(-DSCXLAB_DISPATCH_NAMES)
	say "guest kfuncs: scx_bpf_dispatch* (pre-6.13 names)"
else
	fail "the guest kernel $kver has no sched_ext DSQ kfuncs in its BTF"
fi
libbpf_inc=$(pkg-config --variable=includedir libbpf 2>/dev/null || echo /usr/include)
# built once per kernel and source version
key=$( (cat "$here"/scx_*.bpf.c "$here"/scxlab.bpf.h "$here"/scxlab.h "$here"/scxlab_sched.c
	echo "$kver ${kfunc_flags[*]}"; clang --version; gcc --version; "$bpftool" version) |
	sha256sum | cut -c1-16)
sched_cache=$cache/build/$kver-$key
if [ -x "$sched_cache/scxlab-sched" ]; then
	cp "$sched_cache/scxlab-sched" "$work/scxlab-sched"
	say "test schedulers: cached build $sched_cache"
else
	for s in fifo vtime pcpu; do
		# -fms-extensions: 7.x kernels embed tagged structs anonymously,
		# and bpftool 7.1 dumps them as such
		clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -fms-extensions -Wno-microsoft-anon-tag \
			"${kfunc_flags[@]}" -I"$work" -I"$here" -I"$libbpf_inc" \
			-idirafter /usr/include/x86_64-linux-gnu -Wall -Werror \
			-c "$here/scx_$s.bpf.c" -o "$work/scx_$s.unlinked.o" ||
			fail "compiling scx_$s.bpf.c against the guest's vmlinux.h failed"
		"$bpftool" gen object "$work/scx_$s.bpf.o" "$work/scx_$s.unlinked.o" &&
			"$bpftool" gen skeleton "$work/scx_$s.bpf.o" >"$work/scx_$s.skel.h" ||
			fail "bpftool could not link or skeleton scx_$s"
	done
	gcc -O2 -g -Wall -Wextra -Werror -I"$work" -I"$here" -o "$work/scxlab-sched" \
		"$here/scxlab_sched.c" -lbpf -lelf -lz || fail "building scxlab-sched failed"
	rm -rf "$cache/build"
	mkdir -p "$sched_cache"
	cp "$work/scxlab-sched" "$sched_cache/"
	say "test schedulers built for $kver"
fi
lap "build schedulers"

# --------------------------------------------------------- 4. initramfs
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,etc,usr/bin,usr/lib/schedmcp/plugins}
cp "$busybox" "$root/bin/busybox"
install -m 0755 "$here/init.sh" "$root/init"
install -m 0755 "$daemon" "$root/usr/bin/schedmcp"
install -m 0755 "$client" "$loadgen" "$work/scxlab-sched" "$root/usr/bin/"
plugins=()
for so in "${plugin_files[@]}"; do
	name=$(basename "$so" .so)
	case " ${SCXLAB_EXCLUDE:-} " in *" $name "*) continue ;; esac
	[ -r "$so" ] || fail "plugin $so is missing (build first)"
	install -m 0755 "$so" "$root/usr/lib/schedmcp/plugins/"
	plugins+=("$name")
done
[ ${#plugins[@]} -gt 0 ] || fail "no plugins to put in the guest"
say "plugins in the guest: ${plugins[*]}${SCXLAB_EXCLUDE:+ (left out: $SCXLAB_EXCLUDE)}"
# the daemon dlopens its plugins, so it and they stay dynamic: copy every
# library ldd names (and the loader) to the same path in the guest
ldd_out=$(for f in "$root"/usr/bin/* "$root"/usr/lib/schedmcp/plugins/*.so; do
	[ "$f" = "$root/usr/bin/busybox" ] && continue
	ldd "$f" 2>&1 | sed "s|^|$(basename "$f"): |"
done)
if grep -q 'not found' <<<"$ldd_out"; then
	fail "unresolved libraries: $(grep 'not found' <<<"$ldd_out" | tr -s ' \t\n' ' ')"
fi
libs=$(grep -oE '[[:space:]]/[^ ]*' <<<"$ldd_out" | tr -d ' \t' | sort -u)
for l in $libs; do
	[ -e "$l" ] || continue
	mkdir -p "$root$(dirname "$l")"
	cp -L "$l" "$root$l"
done
chmod -R go-w "$root"
pack "$root" "$work/initrd.gz"
say "initramfs: $(du -h "$work/initrd.gz" | cut -f1) ($(echo "$libs" | wc -w) shared libraries)"
lap "initramfs"

# --------------------------------------------------------- 5. the run
say "booting $kver (TCG thread=$tcg_thread, $smp CPUs, $mem MiB): schedulers: $schedulers"
: >"$work/results.txt"
run_qemu "$budget" "$work/initrd.gz" "$work/console.log" \
	"scxlab.schedulers=${schedulers// /,} scxlab.collect=$collect scxlab.timeout=$((budget - 60))" \
	scxlab "$work/results.txt"
qrc=$?
lap "guest run"
[ -n "${SCXLAB_KEEP:-}" ] || rm -rf "$root" "$work/btf-root"

echo
cat "$work/results.txt"
echo
echo "---- timings ----"
printf '%s\n' "${timings[@]}"
awk -v a="$(date +%s.%N)" -v b="$t_begin" 'BEGIN { printf "%-22s %6.1f s\n", "total", a - b }'
echo "(console log: $work/console.log)"

if ! grep -q '^SUMMARY ' "$work/results.txt"; then
	if [ $qrc -ne 0 ] && [ ! -s "$work/console.log" ]; then
		skip "qemu cannot run at all (exit $qrc): $(head -c 400 "$work/console.log.stderr")"
	fi
	echo "---- console (last 80 lines) ----"
	tail -n 80 "$work/console.log"
	[ -s "$work/console.log.stderr" ] && { echo "---- qemu stderr ----"; head -c 2000 "$work/console.log.stderr"; }
	if [ $qrc -eq 124 ] || [ $qrc -eq 137 ]; then
		fail "the guest did not finish within ${budget} s"
	fi
	fail "the scenario did not report a summary (qemu exit $qrc)"
fi
if grep -q '^SUMMARY .*fail=0' "$work/results.txt" && grep -q '^CLIENT_EXIT 0' "$work/results.txt"; then
	echo "PASS: $(grep '^SUMMARY ' "$work/results.txt")"
	exit 0
fi
echo "---- console (last 60 lines) ----"
tail -n 60 "$work/console.log"
fail "$(grep '^SUMMARY ' "$work/results.txt")"
