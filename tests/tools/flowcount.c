/*
 * flowcount - totals of flow files, read block by block through the
 * store reader (not from the footers), for the integration tests.
 *
 * usage: flowcount [--live] FILE|DIR...
 * prints: files=N flows=N packets=N bytes=N seq_failures=N torn=N bad=N
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ftree.h"
#include "store.h"

struct totals {
	unsigned long long files, flows, packets, bytes, seq, torn, bad;
};

static struct fy_flow buf[4096];

static int count_file(const char *path, struct totals *t)
{
	struct fy_store_reader *r;
	const struct fy_store_info *info;
	char err[512];
	long n;

	if (fy_store_reader_open(&r, path, err, sizeof(err))) {
		fprintf(stderr, "flowcount: %s\n", err);
		t->bad++;
		return -1;
	}
	info = fy_store_reader_info(r);
	t->files++;
	t->seq += info->seq_failures;
	if (info->flags & FY_STORE_INFO_NO_FOOTER)
		t->torn++;
	while ((n = fy_store_reader_next(r, buf, 4096)) != 0) {
		long i;
		if (n == -EBADMSG) {
			fprintf(stderr, "flowcount: %s\n",
				fy_store_reader_message(r));
			t->bad++;
			continue;
		}
		if (n < 0) {
			fprintf(stderr, "flowcount: %s: %s\n", path,
				strerror((int)-n));
			t->bad++;
			break;
		}
		t->flows += (unsigned long long)n;
		for (i = 0; i < n; i++) {
			t->packets += buf[i].packets;
			t->bytes += buf[i].bytes;
		}
	}
	fy_store_reader_close(r);
	return 0;
}

int main(int argc, char **argv)
{
	struct totals t = {0};
	int i, live = 0;

	for (i = 1; i < argc; i++) {
		struct stat st;
		if (strcmp(argv[i], "--live") == 0) {
			live = 1;
			continue;
		}
		if (stat(argv[i], &st)) {
			fprintf(stderr, "flowcount: %s: %s\n", argv[i],
				strerror(errno));
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			struct fy_ftree_file *f;
			char err[512];
			size_t n, k;
			if (fy_ftree_list(argv[i], live, false, &f, &n, err,
					  sizeof(err))) {
				fprintf(stderr, "flowcount: %s\n", err);
				return 1;
			}
			for (k = 0; k < n; k++)
				count_file(f[k].path, &t);
			fy_ftree_list_free(f, n);
		} else {
			count_file(argv[i], &t);
		}
	}
	printf("files=%llu flows=%llu packets=%llu bytes=%llu "
	       "seq_failures=%llu torn=%llu bad=%llu\n",
	       t.files, t.flows, t.packets, t.bytes, t.seq, t.torn, t.bad);
	return t.bad ? 1 : 0;
}
