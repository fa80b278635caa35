// SPDX-License-Identifier: GPL-2.0
/*
 * wattsched - loader and control CLI for the wattsched sched_ext scheduler.
 * See docs/cli.md; the scheduler's design is at the top of
 * bpf/wattsched.bpf.c and in docs/design.md.
 */
#include <getopt.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "lib/util.h"

struct ws_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct ws_cmd cmds[] = {
	{ "run",	cmd_run,	"load and attach the scheduler; print stats until stopped" },
	{ "status",	cmd_status,	"show the attached scheduler's state and counters" },
	{ "policy",	cmd_policy,	"switch the running scheduler's policy" },
	{ "telemetry", cmd_telemetry, "print the telemetry module's PCIe, thermal and power data" },
	{ "cap",	cmd_cap,	"set or clear the host power cap in watts" },
	{ "power",	cmd_power,	"push a measured host power reading (a BMC's)" },
	{ "rack",	cmd_rack,	"check a rack power policy document and print each host's share" },
	{ "class",	cmd_class,	"give the tasks of a cgroup a priority class (batch, ...)" },
	{ "device-affinity", cmd_device_affinity, "bind a process or cgroup to a PCIe device's NUMA node" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"Usage: %s [-v] COMMAND [ARGS...]\n"
		"       %s COMMAND --help\n\n"
		"wattsched is a topology-, power- and thermal-aware sched_ext scheduler.\n\n"
		"Commands:\n", ws_prog, ws_prog);
	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f,
		"\nOptions:\n"
		"  -v, --verbose  show libbpf's log and more detail\n"
		"  -h, --help     this help\n"
		"  -V, --version  print the version\n\n"
		"Documentation: docs/cli.md; design: docs/design.md.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	size_t i;
	int c;

	/* '+': stop at the first non-option, the subcommand. */
	while ((c = getopt_long(argc, argv, "+vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			ws_verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("wattsched %s\n", WS_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		if (!strcmp(argv[optind], cmds[i].name)) {
			char **sub = argv + optind;

			optind = 0;	/* reset getopt for the subcommand */
			return cmds[i].fn(argc - (sub - argv), sub);
		}
	}
	if (!strcmp(argv[optind], "help")) {
		usage(stdout);
		return 0;
	}
	ws_err("unknown command '%s' (see '%s --help')", argv[optind], ws_prog);
	return 2;
}
