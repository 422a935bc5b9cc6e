/* jsonin.h — reading request bodies with a clear 400 for every mistake,
 * naming the field by its JSON path ("limits.per_customer"). Private to
 * api/. Each jin_* returns true when the field is acceptable; otherwise it
 * has already written the error into w. Strings come back as arena copies. */
#ifndef PROMO_API_JSONIN_H
#define PROMO_API_JSONIN_H

#include <stdbool.h>

#include "api/api.h"

/* Parses JSON text (jsonbody.c): the value (caller json_decref's it), or
 * NULL with a message in err and the byte offset where parsing stopped in
 * *pos. Refuses what jansson's parser refused for us: NUL in strings,
 * invalid UTF-8, duplicate keys, out-of-range numbers, nesting deeper than
 * 2048, anything after the value. */
json_t *jin_parse(const char *buf, size_t len, char *err, size_t errlen, size_t *pos);
/* The body as a JSON object (caller json_decref's it), or NULL with w set. */
json_t *jin_object(struct api_req *r, struct api_resp *w);
/* Refuses members of obj not named in `allowed` (NULL-terminated). */
bool jin_only(json_t *obj, const char *path, const char *const *allowed, struct api_resp *w);
/* A string member: absent → *out untouched (unless required); null → NULL
 * when nullable. At most maxlen bytes; no control characters. */
bool jin_str(struct arena *a, json_t *o, const char *key, const char *path, bool required,
             bool nullable, size_t maxlen, const char **out, struct api_resp *w);
/* An integer member in [min, max]. Absent → *out untouched, *present false. */
bool jin_int(json_t *o, const char *key, const char *path, bool required, int64_t min, int64_t max,
             int64_t *out, bool *present, struct api_resp *w);
/* A limit: absent → untouched; null → PROMO_UNLIMITED; else 0..MONEY_MAX. */
bool jin_limit(json_t *o, const char *key, const char *path, int64_t *out, struct api_resp *w);
bool jin_bool(json_t *o, const char *key, const char *path, bool *out, struct api_resp *w);
/* An array of non-empty strings (each ≤ 100 bytes, at most 200). */
bool jin_strv(struct arena *a, json_t *o, const char *key, const char *path, const char ***out,
              size_t *n, struct api_resp *w);
/* A member that must be an object when present (NULL when absent). */
bool jin_obj(json_t *o, const char *key, const char *path, bool required, json_t **out,
             struct api_resp *w);
/* Joins a path and a key for messages ("limits" + "per_customer"). */
const char *jin_path(struct arena *a, const char *path, const char *key);

/* Query parameters: limit (1..1000, default 50) and an optional cursor. */
bool jin_query_limit(struct api_req *r, int *limit, struct api_resp *w);

#endif
