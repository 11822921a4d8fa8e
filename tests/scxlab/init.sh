#!/bin/busybox sh
# /init of the sched_ext lab's guest (scxlab.sh puts it in the initramfs).
# Mounts what the daemon reads, runs the scenario client, copies its output
# to the virtio-serial port named "scxlab" (and the console), shows the
# daemon's log on the console, and powers off.
/bin/busybox --install -s /bin
export PATH=/usr/bin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# cgroup2 with every controller (the cpu one for diagnose_cgroup's v2 proof)
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /run /sys/kernel/debug /sys/kernel/tracing /sys/fs/bpf
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
# where trace_record writes and trace_analysis reads (their default dir)
mkdir -p /var/lib/schedmcp/traces && chmod 0750 /var/lib/schedmcp/traces
ip link set lo up 2>/dev/null

out=/dev/null
for d in /sys/class/virtio-ports/*; do
	[ "$(cat "$d/name" 2>/dev/null)" = scxlab ] && out=/dev/${d##*/}
done

# scxlab.schedulers=fifo,vtime,pcpu scxlab.collect=SECS scxlab.timeout=SECS
scheds="fifo vtime pcpu"
collect=5
budget=400
for a in $(cat /proc/cmdline); do
	case "$a" in
	scxlab.schedulers=*) scheds=$(echo "${a#*=}" | tr , ' ') ;;
	scxlab.collect=*) collect=${a#*=} ;;
	scxlab.timeout=*) budget=${a#*=} ;;
	esac
done

{
	echo "INFO guest: Linux $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPUs," \
		"sched_ext state $(cat /sys/kernel/sched_ext/state 2>/dev/null || echo absent)," \
		"booted in $(cut -d' ' -f1 /proc/uptime) s"
	timeout "$budget" scxlab-client --daemon /usr/bin/schedmcp \
		--plugin-dir /usr/lib/schedmcp/plugins --sched /usr/bin/scxlab-sched \
		--load /usr/bin/scxlab-load --log /tmp/schedmcp.log --collect "$collect" $scheds
	echo "CLIENT_EXIT $?"
} 2>&1 | tee "$out"

echo "---- kernel: sched_ext messages ----"
dmesg | grep -i sched_ext | tail -n 30
echo "---- daemon log (last 80 lines) ----"
tail -n 80 /tmp/schedmcp.log
sync
poweroff -f
