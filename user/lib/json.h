/* SPDX-License-Identifier: GPL-2.0 */
/* json.h - json-c values as wattsched prints them. */
#ifndef __WS_JSON_H
#define __WS_JSON_H

#include <json-c/json.h>
#include <stdio.h>

/* Watts to the milliwatt: no 17-digit float noise in what people read. */
static inline struct json_object *ws_json_watts(double w)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.3f", w);
	return json_object_new_double_s(w, buf);
}

/* The plain compact text of @o, as status and answers print it. */
static inline const char *ws_json_text(struct json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
}

#endif /* __WS_JSON_H */
