/* SPDX-License-Identifier: MIT */
#include "perfdata.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct file_section {
	uint64_t offset, size;
};

struct file_header {
	uint64_t magic;
	uint64_t size;
	uint64_t attr_size;
	struct file_section attrs, data, event_types;
	uint64_t features[4];
};

#define PERF_MAGIC2 0x32454c4946524550ULL /* "PERFILE2" little-endian */

int perfdata_open(struct perfdata *pd, const char *path, char *err, size_t err_len)
{
	struct file_header h;
	struct stat st;
	size_t attr_len;
	int fd;

	memset(pd, 0, sizeof(*pd));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(h)) {
		close(fd);
		snprintf(err, err_len, "%s: too short for a perf.data file", path);
		return -EINVAL;
	}
	pd->len = (size_t)st.st_size;
	pd->map = mmap(NULL, pd->len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (pd->map == MAP_FAILED) {
		pd->map = NULL;
		snprintf(err, err_len, "%s: mmap: %s", path, strerror(errno));
		return -errno;
	}
	memcpy(&h, pd->map, sizeof(h));
	if (h.magic != PERF_MAGIC2) {
		snprintf(err, err_len, "%s: not a perf.data file in file mode (magic)", path);
		goto bad;
	}
	if (h.attr_size <= sizeof(struct file_section) || h.attrs.size < h.attr_size ||
	    h.attrs.offset + h.attrs.size > pd->len || h.data.offset + h.data.size > pd->len) {
		snprintf(err, err_len, "%s: truncated or corrupt header", path);
		goto bad;
	}
	attr_len = h.attr_size - sizeof(struct file_section);
	if (attr_len > sizeof(pd->attr))
		attr_len = sizeof(pd->attr);
	memcpy(&pd->attr, pd->map + h.attrs.offset, attr_len);
	pd->n_attrs = (unsigned int)(h.attrs.size / h.attr_size);
	pd->data = pd->map + h.data.offset;
	pd->data_len = h.data.size;
	return 0;
bad:
	perfdata_close(pd);
	return -EINVAL;
}

void perfdata_close(struct perfdata *pd)
{
	if (pd->map)
		munmap(pd->map, pd->len);
	memset(pd, 0, sizeof(*pd));
}

const struct perf_event_header *perfdata_next(const struct perfdata *pd, size_t *off)
{
	const struct perf_event_header *h;

	if (*off + sizeof(*h) > pd->data_len)
		return NULL;
	h = (const struct perf_event_header *)(pd->data + *off);
	if (h->size < sizeof(*h) || *off + h->size > pd->data_len)
		return NULL;
	*off += h->size;
	return h;
}
