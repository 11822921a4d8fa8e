#!/bin/busybox sh
# /init of the lab's first boot of a new kernel: copy the guest kernel's BTF
# out through the virtio-serial port named "btf", so scxlab.sh can generate
# a vmlinux.h with the guest's sched_ext types.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
for d in /sys/class/virtio-ports/*; do
	if [ "$(/bin/busybox cat "$d/name")" = btf ]; then
		/bin/busybox cat /sys/kernel/btf/vmlinux > "/dev/${d##*/}" &&
			echo "scxlab: BTF copied out ($(/bin/busybox wc -c < /sys/kernel/btf/vmlinux) bytes)"
	fi
done
echo "scxlab: sched_ext state: $(/bin/busybox cat /sys/kernel/sched_ext/state 2>/dev/null || echo absent)"
/bin/busybox sync
/bin/busybox poweroff -f
