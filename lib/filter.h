/*
 * filter.h - the nfdump filter language, compiled once, matched per flow.
 *
 * An expression such as "proto tcp and dst port in [ 80 443 ] and not net
 * 10.0.0.0/8" is parsed once into a small program of pre-resolved tests
 * (field offset, comparison, constant; address and net tests are masked
 * 128-bit compares; lists are sorted and binary-searched), then matched
 * against each flow without allocating and without recursion.
 *
 * The language is nfdump's (see `man nfdump`, FILTER), keywords are
 * case-insensitive, '#' starts a comment up to the end of the line:
 *
 *   expr        := expr or expr | expr and expr | not expr | ( expr )
 *                  ("||", "&&" and "!" too; not binds tighter than and,
 *                  and tighter than or)
 *   any         every flow
 *   ipv4 inet   ipv6 inet6         the family of the flow's addresses
 *   proto P                        tcp, udp, icmp, icmp6, gre, esp, ah,
 *                                  sctp, ... or a number 0..255
 *   [q] ip|host A, [q] ip in [ A A/len ... ]      q: src, dst, src or dst,
 *   [q] net A/len, [q] net A MASK                    src and dst (no q:
 *   [q] port [cmp] N, [q] port in [ N ... ]          either may match)
 *   [q] as [cmp] N, [q] as in [ N ... ]
 *   [q] mask N, [q] vlan N (src vlan: vlanId, dst vlan: postVlanId)
 *   [src] tos N                    flows record one tos: "dst tos" is an error
 *   [in] [q] mac xx:xx:xx:xx:xx:xx
 *   [q] xip|nip A, [q] xnet A/len, [q] xport|nport N   NAT translated fields
 *   [in|out] if N                  no qualifier: either interface
 *   [in|out] packets|bytes [cmp] N no qualifier: in (the record direction)
 *   flows [cmp] N                  a record is one flow
 *   duration [cmp] MS, pps|bps|bpp [cmp] N       computed; duration 0 gives
 *                                  pps = bps = 0, packets 0 gives bpp = 0
 *   flags LETTERS                  all of U A P R S F (E C: ECE, CWR;
 *                                  X: UAPRSF) set, and proto tcp; under
 *                                  "not", any of them (nfdump's rule: "flags
 *                                  S and not flags AFRPU" is a bare SYN)
 *   flags [cmp] N                  the flags byte compared, and proto tcp
 *   icmp-type N, icmp-code N       and proto icmp or icmp6
 *   engine-type N, engine-id N, flowdir ingress|egress|N
 *   router ip A, next ip A, bgpnext ip A     exporter, next hop, BGP next hop
 *   mpls label1 [cmp] N            the top label ("mpls label N" too)
 *   observation domain id [cmp] N
 *
 * cmp is one of = == eq, < lt, > gt, <= le, >= ge, and != (not in nfdump);
 * without one, equality. Numbers are decimal or 0x hex; a k, m, g or t
 * suffix (either case) multiplies by 1000, 10^6, 10^9, 10^12 as nfdump
 * does. An IPv4 net may be abbreviated to its leading octets, as nfdump
 * allows: "net 172.16/12", "net 10/8" (at most 8 prefix bits per octet
 * written). Hostnames are not resolved: a library does not block on DNS.
 * Addresses are compared as 128-bit values with IPv4 in ::ffff:0:0/96, so
 * an IPv6 net that covers that range ("net ::/0") matches IPv4 flows too.
 */
#ifndef FY_FILTER_H
#define FY_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"

struct fy_filter;

/*
 * Compiles expr (NUL-terminated). An empty string, only blanks and
 * comments, "any", or expr == NULL give a filter that matches every flow.
 *
 * Returns 0 and sets *out to a filter the caller frees with
 * fy_filter_free. On error returns -1, sets *out to NULL and writes one
 * line of text to err (errlen bytes, may be NULL/0), such as
 *   column 12: expected a port number (0-65535), found 'http'
 * The column (1-based, in bytes) is that of the offending token; a
 * multi-line expression gets "line L, column C". Callers prefix the text
 * with their context ("filter: "). Errors of no token have no column:
 * "out of memory", "filter too large (over 16777216 items)" (tokens, list
 * entries or tests), "invalid argument: out is NULL".
 */
int fy_filter_compile(const char *expr, struct fy_filter **out, char *err,
		      size_t errlen);

/*
 * Whether flow passes f. No allocation, no side effect; a filter may be
 * shared by threads. A NULL filter matches every flow.
 */
bool fy_filter_match(const struct fy_filter *f, const struct fy_flow *flow);

/*
 * The store columns (FY_STORE_MASK bits of store.h) whose fields the
 * filter reads; every other field of a flow may be left zero. 0 for a
 * filter whose result does not depend on the flow ("any", "not any").
 */
uint64_t fy_filter_columns(const struct fy_filter *f);

/* Frees f. NULL is accepted. */
void fy_filter_free(struct fy_filter *f);

#endif
