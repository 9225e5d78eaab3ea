/*
 * progress.c - "nfq: 12/340 files, 3.1 M flows/s, ETA 0:14" on stderr.
 *
 * Only when stderr is a terminal, and only once a query has run for a
 * second: a quick query prints nothing, a script's stderr stays clean.
 * Workers add to atomic counters; one thread wakes every quarter second
 * to draw. The line is erased before the results are printed.
 */
#include "nfq.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define FIRST_DRAW_MS 1000
#define TICK_MS 250

struct nfq_progress {
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	bool drawn;
	uint64_t total_bytes;
	size_t total_files;
	atomic_uint_fast64_t flows;
	atomic_uint_fast64_t bytes;
	atomic_size_t files;
	struct timespec start;
};

static double since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) +
	       (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void draw(struct nfq_progress *p, double el)
{
	uint64_t flows = atomic_load(&p->flows), bytes = atomic_load(&p->bytes);
	size_t files = atomic_load(&p->files);
	double rate = el > 0 ? (double)flows / el : 0, eta = -1;
	char r[32];

	if (bytes > 0 && p->total_bytes > bytes)
		eta = el * (double)(p->total_bytes - bytes) / (double)bytes;
	nfq_num_str(r, sizeof(r), (uint64_t)rate, false);
	fprintf(stderr, "\rnfq: %zu/%zu files, %s flows/s", files,
		p->total_files, r);
	if (eta >= 0)
		fprintf(stderr, ", ETA %d:%02d", (int)eta / 60, (int)eta % 60);
	fputs("\033[K", stderr);
	p->drawn = true;
}

static void *run(void *arg)
{
	struct nfq_progress *p = arg;
	struct timespec until;
	long wait_ms = FIRST_DRAW_MS;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait_ms / 1000;
		until.tv_nsec += (wait_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->cond, &p->lock, &until);
		if (p->stop)
			break;
		draw(p, since(&p->start));
		wait_ms = TICK_MS;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct nfq_progress *nfq_progress_start(uint64_t total_bytes,
					size_t total_files)
{
	struct nfq_progress *p;

	if (!isatty(STDERR_FILENO))
		return NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->total_bytes = total_bytes;
	p->total_files = total_files;
	atomic_init(&p->flows, 0);
	atomic_init(&p->bytes, 0);
	atomic_init(&p->files, 0);
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (pthread_create(&p->tid, NULL, run, p) != 0) {
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->cond);
		free(p);
		return NULL;
	}
	return p;
}

void nfq_progress_update(struct nfq_progress *p, uint64_t flows, uint64_t bytes,
			 bool file_done)
{
	if (p == NULL)
		return;
	if (flows)
		atomic_fetch_add(&p->flows, flows);
	if (bytes)
		atomic_fetch_add(&p->bytes, bytes);
	if (file_done)
		atomic_fetch_add(&p->files, 1);
}

void nfq_progress_stop(struct nfq_progress *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->tid, NULL);
	if (p->drawn)
		fputs("\r\033[K", stderr);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}
