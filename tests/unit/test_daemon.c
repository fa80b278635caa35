// SPDX-License-Identifier: GPL-2.0
/*
 * test_daemon.c - the daemon (user/daemon/) on real BPF maps of the same
 * layout as the scheduler's, created here, with no scheduler attached:
 * control requests through ws_daemon_handle() as the socket would pass
 * them, what each writes to the maps, refused requests that change
 * nothing at all, a rack document passed as a file descriptor, and the
 * drop directory with a Kubernetes-style ..data symlink swap.
 */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "lib/util.h"
#include "proto/ctlsock.h"
#include "rackdoc.h"
#include "tap.h"

#define PLAN	45

static time_t now;
static struct ws_daemon d;
static struct ws_maps maps;
static struct ws_topology topo;
static struct ws_daemon_cfg cfg;

/*
 * ws_budget carries a bpf_spin_lock, which the kernel accepts only with BTF
 * that says where it is: describe the struct as the BPF object does.
 */
static int create_budget_map(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	struct btf *btf = btf__new_empty();
	int u32_id, u64_id, lock_id, arr_id, id;

	if (!btf)
		return -ENOMEM;
	u32_id = btf__add_int(btf, "unsigned int", 4, 0);
	u64_id = btf__add_int(btf, "unsigned long long", 8, 0);
	lock_id = btf__add_struct(btf, "bpf_spin_lock", 4);
	btf__add_field(btf, "val", u32_id, 0, 0);
	arr_id = btf__add_array(btf, u32_id, u64_id, WS_CPU_WORDS);
	id = btf__add_struct(btf, "ws_budget", sizeof(struct ws_budget));
#define FIELD(name, type) \
	btf__add_field(btf, #name, type, offsetof(struct ws_budget, name) * 8, 0)
	FIELD(lock, lock_id);
	FIELD(gen, u32_id);
	FIELD(nr_active, u32_id);
	FIELD(est_milliwatts, u32_id);
	FIELD(power_source, u32_id);
	FIELD(nr_sensed, u32_id);
	FIELD(cap_watts, u32_id);
	FIELD(active_mask, arr_id);
	FIELD(avoid_mask, arr_id);
#undef FIELD
	if (btf__load_into_kernel(btf))
		return -errno;
	opts.btf_fd = btf__fd(btf);
	opts.btf_key_type_id = u32_id;
	opts.btf_value_type_id = id;
	return bpf_map_create(BPF_MAP_TYPE_ARRAY, "ws_budget", 4, sizeof(struct ws_budget), 1,
			      &opts);
}

static int create_maps(void)
{
	maps.ctl = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ws_ctl", 4, sizeof(struct ws_ctl), 1, NULL);
	maps.budget = create_budget_map();
	maps.bound = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "ws_bound", 4,
				    sizeof(struct ws_bound_ns), 1, NULL);
	maps.heat = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ws_heat", 4, sizeof(struct ws_heat), 1,
				   NULL);
	maps.stats = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "ws_stats", 4, 8, WS_NR_STATS,
				    NULL);
	maps.dev_tgid = bpf_map_create(BPF_MAP_TYPE_HASH, "ws_dev_tgid", 4, 4, 4096, NULL);
	maps.dev_cgrp = bpf_map_create(BPF_MAP_TYPE_HASH, "ws_dev_cgrp", 8, 8,
				       WS_MAX_CGRP_RULES, NULL);
	maps.cgrp_class = bpf_map_create(BPF_MAP_TYPE_HASH, "ws_cgrp_class", 8, 8,
					 WS_MAX_CGRP_RULES, NULL);
	maps.cgrp_token = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ws_cgrp_token", 4, 8,
					 WS_NR_RULE_MAPS, NULL);
	return maps.ctl < 0 || maps.budget < 0 || maps.stats < 0 || maps.dev_tgid < 0 ||
	       maps.dev_cgrp < 0 || maps.cgrp_class < 0 || maps.cgrp_token < 0 ||
	       maps.bound < 0 || maps.heat < 0 ?
	       -errno : 0;
}

/* 8 CPUs: 2 LLCs of 2 cores of 2 threads, one node. */
static void fake_topo(void)
{
	unsigned int cpu;

	memset(&topo, 0, sizeof(topo));
	topo.nr_cpus = topo.nr_online = 8;
	topo.nr_cores = 4;
	topo.nr_llcs = 2;
	topo.nr_nodes = topo.nr_pkgs = 1;
	topo.online[0] = 0xff;
	for (cpu = 0; cpu < 8; cpu++) {
		topo.cpu[cpu].core = cpu / 2;
		topo.cpu[cpu].llc = cpu / 4;
	}
}

static struct ws_ctl map_ctl(void)
{
	struct ws_ctl c = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(maps.ctl, &zero, &c);
	return c;
}

/* Send @msg as the socket would (with @fd, -1 for none); the answer, parsed. */
static struct json_object *request(const char *msg, bool priv, int fd)
{
	static char reply[WS_CTL_ANSWER_MAX];
	int n;

	/* the socket hands the handler a descriptor of its own, which it closes */
	n = ws_daemon_handle(&d, msg, strlen(msg), priv, fd < 0 ? -1 : dup(fd), reply,
			     sizeof(reply));
	return n > 0 ? json_tokener_parse(reply) : NULL;
}

static bool ok(struct json_object *a)
{
	struct json_object *v;

	return a && json_object_object_get_ex(a, "ok", &v) && json_object_get_boolean(v);
}

static const char *member(struct json_object *a, const char *key)
{
	struct json_object *v;

	if (!a || !json_object_object_get_ex(a, key, &v) || !v)
		return "";
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* A refused request: its reason, and neither the map nor the intent changed. */
static void refused(const char *msg, bool priv, const char *why)
{
	struct ws_intent before = d.intent;
	struct ws_ctl ctl = map_ctl();
	struct json_object *a = request(msg, priv, -1);
	char name[512];
	struct ws_ctl after = map_ctl();

	snprintf(name, sizeof(name), "refused %s: %s, nothing changed", msg, why);
	tap_ok(a && !ok(a) && strstr(member(a, "error"), why) &&
	       !memcmp(&before, &d.intent, sizeof(before)) && !memcmp(&ctl, &after, sizeof(ctl)),
	       name);
	if (!strstr(member(a, "error"), why))
		printf("#   got '%s'\n", member(a, "error"));
	json_object_put(a);
}

static void test_requests(void)
{
	struct json_object *a;
	struct ws_ctl ctl;

	ctl = map_ctl();
	tap_ok(ctl.gen == 1 && ctl.policy == WS_POLICY_BALANCED && ctl.batch_duty_pct == 70,
	       "init: the first control block is in the map");
	a = request("{\"op\":\"policy\",\"policy\":\"performance\"}", true, -1);
	ctl = map_ctl();
	tap_ok(ok(a) && ctl.policy == WS_POLICY_PERFORMANCE && ctl.gen == 2 &&
	       ctl.perf[WS_CLASS_NORMAL] == WS_PERF_MAX && !strcmp(member(a, "policy"), "performance"),
	       "policy: in the map, gen bumped, in the answer");
	json_object_put(a);
	a = request("{\"op\":\"cap\",\"watts\":95}", true, -1);
	tap_ok(ok(a) && map_ctl().policy == WS_POLICY_CAPPED && d.budget.cap_watts == 95 &&
	       d.budget.nr_active == 4 && !strcmp(member(a, "cap_origin"), "cli"),
	       "cap 95 W: capped, the budget holds it (4 CPUs by the model) before the answer");
	json_object_put(a);
	refused("{\"op\":\"policy\",\"policy\":\"turbo\"}", true, "unknown policy 'turbo'");
	refused("{\"op\":\"cap\",\"watts\":5}", true, "outside 10..100000");
	refused("{\"op\":\"policy\",\"policy\":\"powersave\"}", false, "needs root");
	refused("{\"op\":\"class\",\"cgroup\":\"/ws-no-such-cgroup\",\"class\":\"batch\"}", true,
		"No such file");
	refused("{\"op\":\"rack\"}", true, "no document came with the request");
	a = request("{\"op\":\"get\"}", false, -1);
	tap_ok(ok(a) && json_object_object_get_ex(a, "compliance", NULL) &&
	       !strcmp(member(a, "cap_watts"), "95"), "get: unprivileged, the whole state");
	json_object_put(a);
	a = request("{\"op\":\"power\",\"watts\":312.5}", true, -1);
	tap_ok(ok(a) && d.obs.pushed.watts == 312.5 && d.intent.gen == map_ctl().gen,
	       "power: a pushed reading is kept; the control block stays");
	json_object_put(a);
	a = request("{\"op\":\"power\",\"clear\":true}", true, -1);
	tap_ok(ok(a) && !d.obs.pushed.at && !d.obs.stale.measured_seen,
	       "power --clear: forgets the readings and the stale state");
	json_object_put(a);
	a = request("{\"op\":\"cap\",\"clear\":true}", true, -1);
	tap_ok(ok(a) && map_ctl().policy == WS_POLICY_PERFORMANCE && !d.budget.cap_watts &&
	       !d.budget.nr_active, "cap --clear: back to performance, no restriction");
	json_object_put(a);
}

static int open_doc(const char *path)
{
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* Class rules written by the last document: how many. */
static int rack_rules(void)
{
	struct ws_class_rule r[16];

	return ws_maps_cgrp_rules(maps.cgrp_class, r, 16, WS_CGRP_FROM_RACK, WS_CGRP_FROM_RACK);
}

static void test_rack_fd(const char *dir)
{
	char path[256];
	struct json_object *a;
	int fd;

	snprintf(path, sizeof(path), "%s/doc.json", dir);
	rackdoc_write(path, "h1", now, 900, 600, 3600, 100, 1000, "powersave");
	fd = open_doc(path);
	a = request("{\"op\":\"rack\",\"host\":\"h1\"}", true, fd);
	tap_ok(ok(a) && d.intent.cap_watts == 400 && d.intent.policy == WS_POLICY_POWERSAVE &&
	       d.intent.origin == WS_ORIGIN_RACK && d.intent.grant.safe_watts == 250 &&
	       !strcmp(member(a, "share_watts"), "400.000") &&
	       !strcmp(member(a, "rack"), "vm-rack") && !strcmp(member(a, "class_rules"), "0"),
	       "rack by fd: share 400 W, powersave, safe share 250 W, in the answer");
	json_object_put(a);
	a = request("{\"op\":\"rack\"}", true, fd);
	tap_ok(!ok(a) && strstr(member(a, "error"), "no entry for host \"hx\""),
	       "rack without a host: the daemon's own id (hx), not in the document");
	json_object_put(a);
	close(fd);

	rackdoc_write(path, "h1", now - 7200, 900, 0, 3600, 100, 1000, "balanced");
	fd = open_doc(path);
	a = request("{\"op\":\"rack\",\"host\":\"h1\"}", true, fd);
	tap_ok(!ok(a) && d.intent.cap_watts == 400 && strstr(member(a, "error"), "expired"),
	       "an expired document (as fd) is refused; the cap stays at 400 W");
	json_object_put(a);
	close(fd);

	fd = open(dir, O_RDONLY | O_DIRECTORY);
	a = request("{\"op\":\"rack\",\"host\":\"h1\"}", true, fd);
	tap_ok(!ok(a) && strstr(member(a, "error"), "not a regular file"),
	       "a descriptor that is not a regular file is refused");
	json_object_put(a);
	close(fd);
	tap_is_int(rack_rules(), 0, "no class rules from documents so far");
}

static int sh(const char *fmt, const char *dir)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), fmt, dir, dir, dir, dir);
	return system(cmd);
}

/* The drop directory, with the layout and updates of a ConfigMap volume. */
static void test_rack_dir(const char *dir)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/..2026_a", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/..2026_a/rack.json", dir);
	rackdoc_write(path, "hx", now, 900, 0, 3600, 100, 1000, "powersave");
	sh("ln -s ..2026_a %s/..data && ln -s ..data/rack.json %s/rack.json", dir);
	ws_daemon_tick(&d);
	tap_ok(d.intent.cap_watts == 400 && d.intent.policy == WS_POLICY_POWERSAVE &&
	       d.intent.origin == WS_ORIGIN_RACK && map_ctl().policy == WS_POLICY_POWERSAVE,
	       "rack-dir: the document there at start is applied (400 W, powersave)");

	snprintf(path, sizeof(path), "%s/..2026_b", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/..2026_b/rack.json", dir);
	rackdoc_write(path, "hx", now, 1300, 0, 3600, 100, 1000, "powersave");
	sh("ln -s ..2026_b %s/..data_tmp && mv -T %s/..data_tmp %s/..data && rm -r %s/..2026_a",
	   dir);
	ws_daemon_tick(&d);
	tap_ok(d.intent.cap_watts == 600, "rack-dir: a ..data symlink swap is seen and applied");

	snprintf(path, sizeof(path), "%s/..2026_c", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/..2026_c/rack.json", dir);
	rackdoc_write(path, "hx", now, 250, 0, 3600, 100, 1000, "powersave");
	sh("ln -s ..2026_c %s/..data_tmp && mv -T %s/..data_tmp %s/..data && rm -r %s/..2026_b",
	   dir);
	ws_daemon_tick(&d);
	tap_ok(d.intent.cap_watts == 600 && d.intent.origin == WS_ORIGIN_RACK,
	       "rack-dir: a bad document leaves the cap at 600 W");

	snprintf(path, sizeof(path), "%s/.rack.json.tmp", dir);
	rackdoc_write(path, "hx", now, 500, 0, 3600, 100, 1000, "powersave");
	ws_daemon_tick(&d);
	tap_ok(d.intent.cap_watts == 600, "rack-dir: a dot-file being written is ignored");
	sh("mv %s/.rack.json.tmp %s/rack.json", dir);
	ws_daemon_tick(&d);
	tap_ok(d.intent.cap_watts == 200, "rack-dir: a file renamed into place is applied");
	sh("rm -f %s/rack.json && mkfifo %s/rack.json", dir);
	ws_daemon_tick(&d);
	tap_ok(d.intent.cap_watts == 200, "rack-dir: a FIFO in its place neither blocks nor applies");

	/* Issued 62 s ahead of this clock (60 s of skew allowed): not yet, then by itself. */
	sh("rm -f %s/rack.json", dir);
	snprintf(path, sizeof(path), "%s/rack.json", dir);
	rackdoc_write(path, "hx", time(NULL) + 62, 700, 0, 3600, 100, 1000, "powersave");
	ws_daemon_tick(&d);
	tap_ok(d.intent.cap_watts == 200 && d.rack_retry_at > 0,
	       "rack-dir: a document not valid yet waits, with a time to read it again");
	sleep(3);
	ws_daemon_tick(&d);
	tap_ok(d.intent.cap_watts == 300 && !d.rack_retry_at,
	       "rack-dir: at its issued_at it applies with no change to the file (300 W)");
}

/* Document class rules: a cgroup this host lacks is a warning, the rest apply. */
static void test_rack_classes(const char *dir)
{
	char path[256];
	struct json_object *a;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/cls.json", dir);
	f = fopen(path, "w");
	fprintf(f, "{\"version\": 1, \"rack\": \"r\", \"cap_watts\": 500,\n"
		"\"lease\": {\"issued_at\": \"%s\", \"lease_seconds\": 600},\n"
		"\"hosts\": [{\"id\": \"h1\", \"min_watts\": 100, \"max_watts\": 1000,\n"
		" \"classes\": {\"batch\": {\"cgroups\": [\"/ws-no-such\"],"
		" \"max_duty_pct\": 30}}}]}\n", "1970-01-01T00:00:00Z");
	fclose(f);
	{
		char at[32];

		strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
		snprintf(path, sizeof(path), "sed -i 's/1970-01-01T00:00:00Z/%s/' %s/cls.json", at,
			 dir);
		tap_is_int(system(path), 0, "classes: the document written");
		snprintf(path, sizeof(path), "%s/cls.json", dir);
	}
	fd = open_doc(path);
	a = request("{\"op\":\"rack\",\"host\":\"h1\"}", true, fd);
	close(fd);
	tap_ok(ok(a) && d.intent.batch_duty_pct == 30 && strstr(member(a, "warnings"),
	       "classes.batch: cgroup /sys/fs/cgroup/ws-no-such: No such file"),
	       "classes: the duty cycle is the document's, a missing cgroup is a warning");
	tap_ok(!strcmp(member(a, "class_rules"), "0") && rack_rules() == 0,
	       "classes: only the cgroups this host has are applied (none here)");
	json_object_put(a);
	a = request("{\"op\":\"cap\",\"watts\":300}", true, -1);
	tap_ok(ok(a) && d.intent.origin == WS_ORIGIN_CLI && rack_rules() >= 0,
	       "an operator's cap takes over from the document");
	json_object_put(a);
}

/* The state file: a restart with the same options continues, with others starts over. */
static void test_persist(const char *dir)
{
	struct ws_daemon_cfg c2 = cfg;
	struct ws_intent start;
	struct json_object *saved, *a;
	char path[256], err[256];

	snprintf(path, sizeof(path), "%s/state/state.json", dir);
	c2.state_file = path;
	c2.rack_dir = NULL;
	c2.start_options = "policy=balanced cap=0";
	ws_intent_init(&start, WS_POLICY_BALANCED, 0, 70, 0);
	ws_daemon_init(&d, &c2, &topo, &maps, &start);
	json_object_put(request("{\"op\":\"cap\",\"watts\":200}", true, -1));
	json_object_put(request("{\"op\":\"power\",\"watts\":300}", true, -1));
	ws_daemon_free(&d);
	saved = ws_state_load(path, err, sizeof(err));
	tap_ok(saved && strstr(json_object_to_json_string_ext(saved, JSON_C_TO_STRING_PLAIN),
			       "\"cap_watts\":200"),
	       "state: the file holds the cap, written on the change (directory made)");

	ws_daemon_init(&d, &c2, &topo, &maps, &start);
	tap_ok(!ws_daemon_restore(&d, saved, path) && d.intent.cap_watts == 200 &&
	       d.intent.origin == WS_ORIGIN_CLI && d.intent.policy == WS_POLICY_CAPPED &&
	       d.obs.pushed.watts == 300 && map_ctl().policy == WS_POLICY_CAPPED,
	       "state: a restart with the same options continues: cap, origin, the pushed reading");
	a = request("{\"op\":\"get\"}", false, -1);
	tap_ok(!strcmp(member(a, "intent_source"), "restored") &&
	       !strcmp(member(a, "restored_from"), path), "state: status says where it came from");
	json_object_put(a);
	ws_daemon_free(&d);

	c2.start_options = "policy=balanced cap=300";
	ws_daemon_init(&d, &c2, &topo, &maps, &start);
	tap_ok(ws_daemon_restore(&d, saved, path) == -ESTALE && d.intent.cap_watts == 0,
	       "state: a changed command line starts from itself");
	ws_daemon_free(&d);
	json_object_put(saved);
}

/*
 * The kfunc path: with ws_heat live, the hot set is BPF's, status reports
 * it and the path, and the budget's avoid mask stays empty; not live, the
 * daemon's own (no thermal file here: nothing is hot).
 */
static void test_heat(void)
{
	struct ws_heat heat = { .live = 1, .hot = { 0x0c } };
	struct ws_budget b;
	__u32 zero = 0;

	tap_ok(!bpf_map_update_elem(maps.heat, &zero, &heat, 0), "heat: BPF's hot set, live");
	ws_daemon_tick(&d);
	tap_ok(d.obs.heat_path == WS_HEAT_KFUNC && d.obs.hot[0] == 0x0c,
	       "heat: kfunc path, status shows BPF's hot CPUs 2 and 3");
	tap_ok(!bpf_map_lookup_elem(maps.budget, &zero, &b) && b.avoid_mask[0] == 0,
	       "heat: the budget's avoid mask stays empty (BPF avoids them itself)");
	heat.live = 0;
	tap_ok(!bpf_map_update_elem(maps.heat, &zero, &heat, 0), "heat: not live");
	ws_daemon_tick(&d);
	tap_ok(d.obs.heat_path != WS_HEAT_KFUNC && d.obs.hot[0] == 0,
	       "heat: not live, the daemon's own reading (none here): nothing hot");
}

/*
 * The partial CPU's trim is keyed on the partial CPU of the budget being
 * written: when a cap step moves it, the new CPU starts low in that same
 * derivation, not with the bias learnt on the one before.  The law's state
 * is set by hand (a re-derivation keeps the law's count for the same cap),
 * so the host's own load plays no part.
 */
static void test_partial(void)
{
	struct json_object *a;
	struct ws_budget b;
	__u32 zero = 0;

	cfg.model.partial_window_ms = 20;
	a = request("{\"op\":\"cap\",\"watts\":90}", true, -1);
	json_object_put(a);
	d.law = (struct ws_cap_law){ .n = 3, .cap = 90, .permille = 500, .k = 1 };
	memset(&d.trim, 0, sizeof(d.trim));
	d.partial_cmd = 0;
	ws_daemon_rederive(&d);
	tap_ok(!bpf_map_lookup_elem(maps.budget, &zero, &b) && b.nr_active == 3 &&
	       b.partial_cpu == 3 && b.partial_permille == 250 && b.partial_window_us == 20000,
	       "partial: 3 CPUs and CPU 3 at half its 50% share to start (in the map)");
	/* as if the trim had learnt that CPU 3 runs less than it is given */
	d.trim.bias = 0.2;
	d.partial_cmd = 700;
	d.law.n = 4;
	ws_daemon_rederive(&d);
	tap_ok(!bpf_map_lookup_elem(maps.budget, &zero, &b) && b.nr_active == 4 &&
	       b.partial_cpu == 4 && b.partial_permille == 250 && d.trim.cpu == 4,
	       "partial: the cap step moves it to CPU 4, which starts low, not with CPU 3's bias");
	d.law.permille = 0;
	ws_daemon_rederive(&d);
	tap_ok(!bpf_map_lookup_elem(maps.budget, &zero, &b) && !b.partial_permille &&
	       !d.trim.have, "partial: no share, no partial CPU, the trim forgotten");
	cfg.model.partial_window_ms = 0;
	a = request("{\"op\":\"cap\",\"clear\":true}", true, -1);
	tap_ok(ok(a) && !d.budget.cap_watts && !d.budget.partial_permille,
	       "partial: cap --clear leaves none");
	json_object_put(a);
}

int main(void)
{
	char dir[] = "/tmp/ws-daemon-XXXXXX", err[256];
	struct ws_intent start;

	now = time(NULL);
	if (create_maps()) {
		tap_plan(1);
		snprintf(err, sizeof(err), "cannot create BPF maps here: %s", strerror(errno));
		tap_skip("the daemon on real maps", err);
		return tap_done();
	}
	tap_plan(PLAN);
	tap_ok(mkdtemp(dir) != NULL, "a scratch directory");
	fake_topo();
	ws_power_model_defaults(&cfg.model);
	ws_thermal_defaults(&cfg.thermal);
	cfg.stale_s = 10;
	cfg.rack_dir = dir;
	strcpy(cfg.host_id, "hx");
	ws_intent_init(&start, WS_POLICY_BALANCED, 0, 70, 0);
	tap_is_int(ws_daemon_init(&d, &cfg, &topo, &maps, &start), 0, "the daemon starts");
	/* the drop directory is empty: nothing applies until a document is there */
	ws_daemon_tick(&d);
	tap_ok(d.intent.origin == WS_ORIGIN_NONE, "rack-dir: no document, no cap");

	test_requests();
	test_heat();
	test_partial();
	test_rack_fd(dir);
	test_rack_dir(dir);
	test_rack_classes(dir);
	ws_daemon_free(&d);
	test_persist(dir);
	sh("rm -rf %s", dir);
	return tap_done();
}
