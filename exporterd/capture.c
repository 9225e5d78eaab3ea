/*
 * capture.c - see capture.h.
 */
#include "capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcap_file.h"
#include "pkt_decode.h"

/* Live: how long libpcap may hold packets back to fill a buffer block. */
#define LIVE_TIMEOUT_MS 100

static pcap_t *open_live(const struct xcfg *c, char *err, size_t errlen)
{
	char pcerr[PCAP_ERRBUF_SIZE] = "";
	pcap_t *pc = pcap_create(c->iface, pcerr);
	int r;

	if (pc == NULL) {
		snprintf(err, errlen, "-i %s: %s", c->iface, pcerr);
		return NULL;
	}
	(void)pcap_set_snaplen(pc, c->snaplen);
	/* "any" has no promiscuous mode of its own */
	(void)pcap_set_promisc(pc, c->promisc && strcmp(c->iface, "any") != 0);
	(void)pcap_set_timeout(pc, LIVE_TIMEOUT_MS);
	if (c->bufsize > 0)
		(void)pcap_set_buffer_size(pc, c->bufsize);
	if (c->immediate)
		(void)pcap_set_immediate_mode(pc, 1);
	r = pcap_activate(pc);
	if (r < 0) {
		snprintf(err, errlen, "-i %s: %s", c->iface,
			 r == PCAP_ERROR ? pcap_geterr(pc)
					 : pcap_statustostr(r));
		pcap_close(pc);
		return NULL;
	}
	if (pcap_setnonblock(pc, 1, pcerr) != 0) {
		snprintf(err, errlen, "-i %s: %s", c->iface, pcerr);
		pcap_close(pc);
		return NULL;
	}
	return pc;
}

/* The -r file's read buffer (one capture per process), see pcap_file.h. */
static char *file_buf;

static pcap_t *open_file(const struct xcfg *c, char *err, size_t errlen)
{
	char pcerr[PCAP_ERRBUF_SIZE] = "";
	pcap_t *pc;

	free(file_buf);
	pc = fy_pcap_open_file(c->rfile, &file_buf, pcerr);
	if (pc == NULL)
		snprintf(err, errlen, "-r %s: %s", c->rfile, pcerr);
	return pc;
}

static int set_filter(pcap_t *pc, const struct xcfg *c, char *err,
		      size_t errlen)
{
	struct bpf_program prog;
	int r;

	if (c->filter == NULL || c->filter[0] == '\0')
		return 0;
	if (pcap_compile(pc, &prog, c->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(err, errlen, "filter '%s': %s", c->filter,
			 pcap_geterr(pc));
		return -1;
	}
	r = pcap_setfilter(pc, &prog);
	if (r != 0)
		snprintf(err, errlen, "filter '%s': %s", c->filter,
			 pcap_geterr(pc));
	pcap_freecode(&prog);
	return r;
}

pcap_t *cap_open(const struct xcfg *c, char *err, size_t errlen)
{
	pcap_t *pc = c->iface ? open_live(c, err, errlen)
			      : open_file(c, err, errlen);
	int dlt;

	if (pc == NULL)
		return NULL;
	dlt = pcap_datalink(pc);
	if (!fy_pkt_linktype_supported(dlt)) {
		snprintf(err, errlen, "%s %s: link type %s (%d) not supported",
			 c->iface ? "-i" : "-r", c->iface ? c->iface : c->rfile,
			 pcap_datalink_val_to_name(dlt)
				 ? pcap_datalink_val_to_name(dlt)
				 : "?",
			 dlt);
		pcap_close(pc);
		return NULL;
	}
	if (set_filter(pc, c, err, errlen) != 0) {
		pcap_close(pc);
		return NULL;
	}
	return pc;
}

void cap_close(pcap_t *pc)
{
	if (pc != NULL)
		pcap_close(pc);
	free(file_buf);
	file_buf = NULL;
}

unsigned cap_kernel_drops(pcap_t *pc)
{
	struct pcap_stat st;

	if (pcap_stats(pc, &st) != 0)
		return 0;
	return st.ps_drop + st.ps_ifdrop;
}
