/*
 * info.c - -I: the totals of the files read, from their footers alone.
 *
 * Nothing is decompressed: the footer holds per-protocol counts, first
 * and last seen and the sequence failures. A file without a footer (torn,
 * or still open with --live) has its totals recomputed by the reader from
 * the block headers. The layout is nfdump -I's, summed over the files.
 */
#include "nfq.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct info_sum {
	struct fy_store_stats st;
	uint64_t seq_failures;
	uint64_t lost_flows;
	size_t files;
	size_t torn;
	char ident[FY_STORE_IDENT_MAX + 1];
	bool idents_differ;
};

static void info_print_text(struct nfq_out *out, const struct info_sum *s)
{
	static const char *const pn[FY_STORE_P_N] = {"tcp", "udp", "icmp",
						     "other"};
	FILE *fp = out->fp;
	int p;

	fprintf(fp, "Ident: %s\n",
		s->idents_differ ? "(several)"
		: s->ident[0]	 ? s->ident
				 : "none");
	fprintf(fp, "Flows: %" PRIu64 "\n", s->st.all.flows);
	for (p = 0; p < FY_STORE_P_N; p++)
		fprintf(fp, "Flows_%s: %" PRIu64 "\n", pn[p],
			s->st.proto[p].flows);
	fprintf(fp, "Packets: %" PRIu64 "\n", s->st.all.packets);
	for (p = 0; p < FY_STORE_P_N; p++)
		fprintf(fp, "Packets_%s: %" PRIu64 "\n", pn[p],
			s->st.proto[p].packets);
	fprintf(fp, "Bytes: %" PRIu64 "\n", s->st.all.bytes);
	for (p = 0; p < FY_STORE_P_N; p++)
		fprintf(fp, "Bytes_%s: %" PRIu64 "\n", pn[p],
			s->st.proto[p].bytes);
	fprintf(fp, "First: %" PRIu64 "\n", s->st.first_ms / 1000);
	fprintf(fp, "Last: %" PRIu64 "\n", s->st.last_ms / 1000);
	fprintf(fp, "msec_first: %u\n", (unsigned)(s->st.first_ms % 1000));
	fprintf(fp, "msec_last: %u\n", (unsigned)(s->st.last_ms % 1000));
	fprintf(fp, "Sequence failures: %" PRIu64 "\n", s->seq_failures);
}

static void info_json_count(FILE *fp, const char *name,
			    const struct fy_store_count *c, bool last)
{
	fprintf(fp,
		"\t\"%s\" : { \"flows\" : %" PRIu64 ", \"packets\" : %" PRIu64
		", \"bytes\" : %" PRIu64 " }%s\n",
		name, c->flows, c->packets, c->bytes, last ? "" : ",");
}

static void info_print_json(struct nfq_out *out, const struct info_sum *s)
{
	FILE *fp = out->fp;
	bool nd = out->o.format == NFQ_O_NDJSON;
	char t[40];

	if (nd) {
		fprintf(fp,
			"{\"type\":\"INFO\",\"files\":%zu,\"flows\":%" PRIu64
			",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
			",\"flows_tcp\":%" PRIu64 ",\"flows_udp\":%" PRIu64
			",\"flows_icmp\":%" PRIu64 ",\"flows_other\":%" PRIu64
			",\"sequence_failures\":%" PRIu64
			",\"first_ms\":%" PRIu64 ",\"last_ms\":%" PRIu64 "}\n",
			s->files, s->st.all.flows, s->st.all.packets,
			s->st.all.bytes, s->st.proto[FY_STORE_P_TCP].flows,
			s->st.proto[FY_STORE_P_UDP].flows,
			s->st.proto[FY_STORE_P_ICMP].flows,
			s->st.proto[FY_STORE_P_OTHER].flows, s->seq_failures,
			s->st.first_ms, s->st.last_ms);
		return;
	}
	fputs("{\n\t\"ident\" : ", fp);
	if (s->idents_differ)
		fputs("null", fp);
	else
		nfq_json_str(fp, s->ident);
	fprintf(fp, ",\n\t\"files\" : %zu,\n", s->files);
	info_json_count(fp, "all", &s->st.all, false);
	info_json_count(fp, "tcp", &s->st.proto[FY_STORE_P_TCP], false);
	info_json_count(fp, "udp", &s->st.proto[FY_STORE_P_UDP], false);
	info_json_count(fp, "icmp", &s->st.proto[FY_STORE_P_ICMP], false);
	info_json_count(fp, "other", &s->st.proto[FY_STORE_P_OTHER], false);
	if (s->st.all.flows) {
		nfq_time_str(&out->tf, t, s->st.first_ms, true, 'T');
		fprintf(fp, "\t\"first\" : \"%s%s\",\n", t,
			out->o.localtime ? "" : "Z");
		nfq_time_str(&out->tf, t, s->st.last_ms, true, 'T');
		fprintf(fp, "\t\"last\" : \"%s%s\",\n", t,
			out->o.localtime ? "" : "Z");
	}
	fprintf(fp, "\t\"first_ms\" : %" PRIu64 ",\n", s->st.first_ms);
	fprintf(fp, "\t\"last_ms\" : %" PRIu64 ",\n", s->st.last_ms);
	fprintf(fp, "\t\"sequence_failures\" : %" PRIu64 ",\n",
		s->seq_failures);
	fprintf(fp, "\t\"lost_flows\" : %" PRIu64 ",\n", s->lost_flows);
	fprintf(fp, "\t\"files_without_footer\" : %zu\n}\n", s->torn);
}

int nfq_info(const struct nfq_file *files, size_t n, const struct nfq_window *w,
	     struct nfq_out *out, char *err, size_t errlen)
{
	struct info_sum s;
	size_t i;
	int bad = 0;

	memset(&s, 0, sizeof(s));
	for (i = 0; i < n; i++) {
		const struct fy_store_info *info;
		struct fy_store_reader *rd;
		char msg[FY_STORE_MSG_MAX];
		int r;

		r = fy_store_reader_open(&rd, files[i].path, msg, sizeof(msg));
		if (r) {
			if (files[i].temp && r == -ENOENT)
				continue;
			fprintf(stderr, "nfq: %s\n", msg);
			bad++;
			continue;
		}
		info = fy_store_reader_info(rd);
		if (info->stats.all.flows &&
		    !nfq_window_overlaps(w, info->stats.first_ms,
					 info->stats.last_ms)) {
			fy_store_reader_close(rd);
			continue;
		}
		if (info->flags & FY_STORE_INFO_NO_FOOTER) {
			s.torn++;
			if (!files[i].temp)
				fprintf(stderr, "nfq: %s\n",
					fy_store_reader_message(rd));
		}
		if (s.files == 0)
			memcpy(s.ident, info->ident, sizeof(s.ident));
		else if (strcmp(s.ident, info->ident) != 0)
			s.idents_differ = true;
		fy_store_stats_merge(&s.st, &info->stats);
		s.seq_failures += info->seq_failures;
		s.lost_flows += info->lost_flows;
		s.files++;
		fy_store_reader_close(rd);
	}
	if (nfq_out_is_json(out))
		info_print_json(out, &s);
	else
		info_print_text(out, &s);
	if (bad) {
		snprintf(err, errlen, "%d file%s could not be read", bad,
			 bad == 1 ? "" : "s");
		return -EIO;
	}
	return 0;
}
