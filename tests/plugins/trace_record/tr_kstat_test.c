/* SPDX-License-Identifier: MIT */
/*
 * trace_record's /proc/interrupts and /proc/softirqs parser (tr_kstat.h):
 * texts in the kernel's layouts, with an offline CPU's column missing, a
 * shared irq line, rows that are not device irqs, a CPU past the count, and
 * headers that are not a CPU list. Exits 1 on the first wrong sum.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tr_kstat.h"

static int fails;

static void expect(const char *what, const char *text, bool irqs, uint32_t ncpus, int ret,
		   const uint64_t *want)
{
	uint64_t out[4] = {0}, shape;
	int r = tr_kstat_parse(text, strlen(text), irqs, out, ncpus, &shape);

	if (r != ret) {
		printf("not ok: %s: returned %d, want %d\n", what, r, ret);
		fails++;
		return;
	}
	for (uint32_t c = 0; c < 4; c++)
		if (want && out[c] != want[c]) {
			printf("not ok: %s: cpu %u %llu, want %llu\n", what, c,
			       (unsigned long long)out[c], (unsigned long long)want[c]);
			fails++;
			return;
		}
	printf("ok: %s\n", what);
}

/* Whether two texts parse to the same shape. */
static void same_shape(const char *what, const char *a, const char *b, bool irqs, bool want)
{
	uint64_t out[4] = {0}, sa = 0, sb = 0;

	if (tr_kstat_parse(a, strlen(a), irqs, out, 4, &sa) ||
	    tr_kstat_parse(b, strlen(b), irqs, out, 4, &sb) || (sa == sb) != want) {
		printf("not ok: %s: shapes %s\n", what, sa == sb ? "equal" : "differ");
		fails++;
		return;
	}
	printf("ok: %s\n", what);
}

int main(void)
{
	static const char softirqs[] =
		"                    CPU0       CPU1       \n"
		"          HI:          1          2\n"
		"       TIMER:        100        200\n"
		"      NET_RX:         10         20\n"
		"         RCU:       1000       2000\n";
	static const char interrupts[] =
		"           CPU0       CPU1       \n"
		"  24:          1          0  IO-APIC   5-edge      ACPI:Ged\n"
		"  36:          0    2053793 PCI-MSIX-0000:00:02.0   1-edge      virtio1-req.0\n"
		"  40:          5          7  IO-APIC  11-fasteoi   uhci_hcd:usb1, ehci_hcd:usb2\n"
		"  41:          3\n"
		"NMI:          9          9   Non-maskable interrupts\n"
		"LOC:    6426752    7173982   Local timer interrupts\n"
		"ERR:          0\n"
		"MIS:          0\n";
	/* CPU1 offline: its column is left out, CPU2's follows CPU0's */
	static const char gap[] =
		"           CPU0       CPU2\n"
		"  10:          4          6  chip  1-edge  a\n"
		"  11:          1          1  chip  2-edge  b, c, d\n";
	uint64_t w1[4] = {1111, 2222, 0, 0};
	uint64_t w2[4] = {1 + 10 + 3, 2053793 + 14, 0, 0};
	uint64_t w3[4] = {4 + 3, 0, 6 + 3, 0};
	uint64_t w4[4] = {4 + 3, 0, 0, 0};

	expect("softirqs: every row, per CPU", softirqs, false, 2, 0, w1);
	expect("interrupts: numbered rows, a shared line twice, a short row", interrupts, true,
	       2, 0, w2);
	expect("interrupts: columns by CPU number (CPU1 offline)", gap, true, 4, 0, w3);
	expect("interrupts: CPUs past ncpus left out", gap, true, 1, 0, w4);
	/* a comma inside a name is not a second action */
	expect("interrupts: a comma in a name", "   CPU0\n  7:  5  chip  1-edge  a,b\n", true,
	       1, 0, (const uint64_t[4]){ 5, 0, 0, 0 });
	same_shape("the same lines, other counts",
		   "  CPU0  CPU1\n 10:  1  2  c 1-edge a\n 11:  3  4  c 2-edge b\n",
		   "  CPU0  CPU1\n 10:  9  8  c 1-edge a\n 11:  7  6  c 2-edge b\n", true, true);
	same_shape("an irq freed",
		   "  CPU0  CPU1\n 10:  1  2  c 1-edge a\n 11:  3  4  c 2-edge b\n",
		   "  CPU0  CPU1\n 10:  9  8  c 1-edge a\n", true, false);
	same_shape("a CPU offline",
		   "  CPU0  CPU1\n 10:  1  2  c 1-edge a\n", "  CPU0\n 10:  9  c 1-edge a\n",
		   true, false);
	same_shape("a second action on a line",
		   "  CPU0\n 10:  1  c 1-edge a\n", "  CPU0\n 10:  9  c 1-edge a, b\n", true,
		   false);
	same_shape("softirqs: the same rows",
		   "  CPU0\n HI:  1\n TIMER:  2\n", "  CPU0\n HI:  5\n TIMER:  9\n", false, true);
	expect("no header line", "  10: 1 2", true, 2, -EINVAL, NULL);
	expect("a header that is not a CPU list", "IRQ  foo\n 10: 1\n", true, 2, -EINVAL, NULL);
	expect("an empty text", "", false, 2, -EINVAL, NULL);
	return fails ? 1 : 0;
}
