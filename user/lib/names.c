// SPDX-License-Identifier: GPL-2.0
/* names.c - the spelling of the shared ABI's enums (names.h). */
#include <string.h>

#include "lib/names.h"
#include "lib/util.h"

static const char *const policy_names[WS_NR_POLICIES] = {
	[WS_POLICY_BALANCED]	= "balanced",
	[WS_POLICY_PERFORMANCE]	= "performance",
	[WS_POLICY_POWERSAVE]	= "powersave",
	[WS_POLICY_CAPPED]	= "capped",
};

static const char *const class_names[WS_NR_CLASSES] = {
	[WS_CLASS_NORMAL]	= "normal",
	[WS_CLASS_LATENCY]	= "latency-critical",
	[WS_CLASS_BATCH]	= "batch",
};

static const char *const source_names[] = {
	[WS_POWER_NONE]		= "none",
	[WS_POWER_MODEL]	= "model",
	[WS_POWER_RAPL]		= "rapl",
	[WS_POWER_PUSHED]	= "pushed",
};

const char *const ws_stat_names[WS_NR_STATS] = {
#define WS_STAT_NAME(name, desc) #name,
	WS_STATS(WS_STAT_NAME)
#undef WS_STAT_NAME
};

const char *const ws_stat_descs[WS_NR_STATS] = {
#define WS_STAT_DESC(name, desc) desc,
	WS_STATS(WS_STAT_DESC)
#undef WS_STAT_DESC
};

static int index_of(const char *const *names, unsigned int n, const char *name)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!strcmp(name, names[i]))
			return i;
	return -1;
}

const char *ws_policy_name(unsigned int policy)
{
	return policy < WS_NR_POLICIES ? policy_names[policy] : "unknown";
}

int ws_policy_from_name(const char *name)
{
	return index_of(policy_names, WS_NR_POLICIES, name);
}

const char *ws_class_name(unsigned int cls)
{
	return cls < WS_NR_CLASSES ? class_names[cls] : "unknown";
}

int ws_class_from_name(const char *name)
{
	return index_of(class_names, WS_NR_CLASSES, name);
}

const char *ws_power_source_name(unsigned int src)
{
	return src < ARRAY_SIZE(source_names) ? source_names[src] : "none";
}
