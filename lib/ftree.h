/*
 * ftree.h - per-exporter file trees.
 *
 * A tree is `<base>/<ident>/<layout>/<prefix>.YYYYMMDDhhmm`. The layout is
 * one of nfcapd's -S schemes (0 none, 1 %Y/%m/%d, 2 %Y/%m/%d/%H, 3
 * %Y/%W/%u, 4 %Y/%W/%u/%H, 5 %Y/%j, 6 %Y/%j/%H, 7 %F, 8 %F/%H). Names are
 * in UTC unless the operator asks for local time, so a DST change never
 * makes two slots share a name. Seconds are added when rotation is shorter
 * than a minute. A restart inside the same slot never overwrites: the new
 * file gets a ".N" suffix. The open file is `<prefix>.current.<pid>` in the
 * slot's directory; readers skip such names unless they ask for live data.
 */
#ifndef FY_FTREE_H
#define FY_FTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define FY_FTREE_PREFIX "flows"
#define FY_FTREE_LAYOUT_MAX 8
#define FY_FTREE_TEMP_TAG ".current."

/* Start of the slot holding `t` for rotation every `period` seconds. */
time_t fy_ftree_slot_start(time_t t, unsigned period);

/*
 * Writes the directory of the slot starting at `t` under `dir` into `buf`
 * ("dir" itself for layout 0). Returns 0, or -1 if it does not fit or the
 * layout is unknown.
 */
int fy_ftree_slot_dir(char *buf, size_t len, const char *dir, int layout,
		      time_t t, bool localtime);

/* `<prefix>.YYYYMMDDhhmm[ss]` for the slot starting at `t`. */
int fy_ftree_file_name(char *buf, size_t len, const char *prefix, time_t t,
		       bool seconds, bool localtime);

/* `<prefix>.current.<pid>`. */
int fy_ftree_temp_name(char *buf, size_t len, const char *prefix, pid_t pid);

/* Whether a file name is an open (temporary) file of a collector. */
bool fy_ftree_is_temp(const char *name);

/*
 * Parses a final name `<prefix>.YYYYMMDDhhmm[ss][.N]` into the slot time.
 * Returns 0, or -1 if the name is not one of ours.
 */
int fy_ftree_parse_name(const char *name, bool localtime, time_t *t);

/*
 * Picks a final path for a slot that no file has yet: `base` if free,
 * else `base.1`, `base.2`... Returns 0, or -1 with errno.
 */
int fy_ftree_free_path(char *buf, size_t len, const char *base);

/* mkdir -p with `mode` for the directories it creates. */
int fy_mkdir_p(const char *path, mode_t mode);

struct fy_ftree_file {
	char *path;
	time_t slot;   /* from the name; mtime for temporary files */
	uint64_t size; /* bytes */
	bool temp;
};

/*
 * Lists the flow files under `dir`, recursively, in time order (slot, then
 * name). Temporary files only if `with_temp`. Returns 0, or -1 with a
 * message naming the directory in `err`. Free with fy_ftree_list_free.
 */
int fy_ftree_list(const char *dir, bool with_temp, bool localtime,
		  struct fy_ftree_file **out, size_t *n, char *err,
		  size_t errlen);
void fy_ftree_list_free(struct fy_ftree_file *files, size_t n);

#endif
