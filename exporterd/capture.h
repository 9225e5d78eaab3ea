/*
 * capture.h - opening libpcap: a live interface or a capture file, with
 * the snap length, buffer, promiscuous and immediate modes and the filter
 * of the configuration.
 */
#ifndef FY_EXPORTERD_CAPTURE_H
#define FY_EXPORTERD_CAPTURE_H

#include <pcap/pcap.h>
#include <stddef.h>

#include "config.h"

/*
 * Opens what `c` names (-i or -r), applies the filter and, when live,
 * makes the handle non-blocking for the event loop. Returns the handle, or
 * NULL with a message naming the interface, file or filter in err.
 */
pcap_t *cap_open(const struct xcfg *c, char *err, size_t errlen);

/* Closes what cap_open() opened and frees its file buffer. */
void cap_close(pcap_t *pc);

/* Packets the kernel dropped, as pcap_stats() says (0 for files). */
unsigned cap_kernel_drops(pcap_t *pc);

#endif
