/*
 * daemon.c - see daemon.h.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

int dmn_daemonize(char *err, size_t errlen)
{
	pid_t pid;
	int fd;

	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		goto fail;
	/* a second fork: never again a controlling terminal */
	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid > 0)
		_exit(0);
	umask(022);
	if (chdir("/") != 0)
		goto fail;
	fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		goto fail;
	(void)dup2(fd, STDIN_FILENO);
	(void)dup2(fd, STDOUT_FILENO);
	(void)dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
fail:
	snprintf(err, errlen, "-D/--daemon: %s", strerror(errno));
	return -1;
}

int dmn_write_pidfile(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		snprintf(err, errlen, "-P %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0) {
		snprintf(err, errlen, "-P %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int dmn_drop_privileges(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(err, errlen, "-u %s: %s", user,
			 errno ? strerror(errno) : "no such user");
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
	    setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		snprintf(err, errlen, "-u %s: %s", user, strerror(errno));
		return -1;
	}
	/* make sure there is no way back */
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		snprintf(err, errlen, "-u %s: could regain root", user);
		return -1;
	}
	/* exporterd runs no program: no set-uid one may give root back */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, errlen, "-u %s: no_new_privs: %s", user,
			 strerror(errno));
		return -1;
	}
	return 0;
}
