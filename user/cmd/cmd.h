/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cmd.h - the wattsched subcommands, one file each (cmd_<verb>.c).  Each
 * parses its own arguments (argv[0] is the subcommand) and returns the exit
 * status: 0 done, 1 refused or failed, 2 usage error.
 */
#ifndef __WS_CMD_H
#define __WS_CMD_H

int cmd_run(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_cap(int argc, char **argv);
int cmd_power(int argc, char **argv);
int cmd_rack(int argc, char **argv);
int cmd_class(int argc, char **argv);
int cmd_device_affinity(int argc, char **argv);
int cmd_telemetry(int argc, char **argv);

#endif /* __WS_CMD_H */
