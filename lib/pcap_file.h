/*
 * pcap_file.h - opening a capture file for libpcap with a large read
 * buffer.
 *
 * libpcap reads a file through stdio, whose default buffer is 4 KB: one
 * read(2) per 4 KB was a third of exporterd's time on a 170 MB capture.
 */
#ifndef FY_PCAP_FILE_H
#define FY_PCAP_FILE_H

#include <pcap/pcap.h>

/*
 * Opens `path` ("-": standard input, default buffering) for reading. On
 * success *buf is the buffer the handle reads through (or NULL), to be
 * freed after pcap_close(). On failure NULL, with libpcap's or the
 * system's message (without the path) in errbuf (PCAP_ERRBUF_SIZE).
 */
pcap_t *fy_pcap_open_file(const char *path, char **buf, char *errbuf);

#endif
