/*
 * pcap_file.c - see pcap_file.h.
 */
#include "pcap_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILE_BUF (1 << 20)

pcap_t *fy_pcap_open_file(const char *path, char **buf, char *errbuf)
{
	pcap_t *pc;
	FILE *f;

	*buf = NULL;
	if (strcmp(path, "-") == 0)
		return pcap_open_offline(path, errbuf);
	f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s", strerror(errno));
		return NULL;
	}
	*buf = malloc(FILE_BUF);
	if (*buf != NULL)
		(void)setvbuf(f, *buf, _IOFBF, FILE_BUF);
	pc = pcap_fopen_offline(f, errbuf);
	if (pc == NULL) {
		fclose(f);
		free(*buf);
		*buf = NULL;
	}
	return pc;
}
