/*
 * daemon.h - background mode, pidfile and dropping privileges.
 */
#ifndef FY_EXPORTERD_DAEMON_H
#define FY_EXPORTERD_DAEMON_H

#include <stddef.h>

/* Forks into the background, detaches from the terminal. 0 or -1. */
int dmn_daemonize(char *err, size_t errlen);

/* Writes the process id to `path`. 0 or -1 with a message. */
int dmn_write_pidfile(const char *path, char *err, size_t errlen);

/*
 * Becomes `user` (its uid, gid and supplementary groups) for good.
 * 0 or -1 with a message naming the user.
 */
int dmn_drop_privileges(const char *user, char *err, size_t errlen);

#endif
