// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for rack documents: arbitrary bytes through rack_parse(),
 * and whatever parses through the lease check, the share rule and the
 * cgroup classifier.  Besides the sanitizers' findings it aborts when a
 * parsed document breaks what rack.h promises: a valid error string on
 * failure, and shares within [min_watts, max_watts] that never add up to
 * more than the cap.  Seed corpus: tests/unit/rack-corpus; build: fuzz.mk.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/rack.h"
#include "lib/util.h"

static void check_shares(const struct rack_doc *doc, double cap, const double *sh)
{
	double sum = 0;
	size_t i;

	for (i = 0; i < doc->nr_hosts; i++) {
		const struct rack_host *h = &doc->hosts[i];

		if (!isfinite(sh[i]) || sh[i] < h->min_watts - 1e-6 || sh[i] > h->max_watts + 1e-6)
			abort();
		sum += sh[i];
	}
	if (sum > cap * (1 + 1e-9) + 1e-6)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[RACK_ERR_MAX];
	struct rack_doc doc;
	double *sh;
	size_t i;

	memset(err, 'X', sizeof(err));
	if (rack_parse((const char *)data, size, &doc, err, sizeof(err))) {
		/* Every failure explains itself as "path: reason", within the buffer. */
		if (strnlen(err, sizeof(err)) == sizeof(err) || !strstr(err, ": "))
			abort();
		if (doc.hosts || doc.nr_hosts)
			abort();
		return 0;
	}
	if (!doc.nr_hosts || doc.nr_hosts > RACK_MAX_HOSTS || doc.expires_at <= doc.issued_at)
		abort();
	rack_validate_time(&doc, doc.issued_at, err, sizeof(err));
	rack_validate_time(&doc, doc.expires_at, err, sizeof(err));

	sh = calloc(doc.nr_hosts, sizeof(*sh));
	if (sh) {
		if (!rack_share(&doc, sh, err, sizeof(err)))
			check_shares(&doc, doc.cap_watts, sh);
		if (doc.safe_cap_watts > 0 && !rack_safe_share(&doc, sh, err, sizeof(err)))
			check_shares(&doc, doc.safe_cap_watts, sh);
		free(sh);
	}
	for (i = 0; i < doc.nr_hosts; i++) {
		const struct rack_host *h = &doc.hosts[i];

		if (rack_find_host(&doc, h->id) != h)
			abort();
		rack_host_classify(h, "/batch.slice/job.scope");
		rack_host_classify(h, "/");
	}
	rack_doc_free(&doc);
	return 0;
}
