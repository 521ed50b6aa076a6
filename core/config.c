/* config.c -- table-driven JSON configuration (see config.h). */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/errbuf.h"

#define CFG_MAX_DEPTH 8

/* Finds the value at a dotted path, or NULL. */
static const json_t *lookup(const json_t *root, const char *path)
{
    char part[128];
    const json_t *cur = root;
    while (cur && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof part || !json_is_object(cur))
            return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        cur = json_object_get(cur, part);
        path += n;
        if (*path == '.')
            path++;
    }
    return cur;
}

/* Is path a field, the prefix of a field's path, or inside a JSON field? */
static int classify(const wh_cfg_field *fields, const char *path)
{
    size_t n = strlen(path);
    for (const wh_cfg_field *f = fields; f->key; f++) {
        size_t k = strlen(f->key);
        if (k == n && memcmp(f->key, path, n) == 0)
            return 1;                                   /* a field */
        if (k > n && memcmp(f->key, path, n) == 0 && f->key[n] == '.')
            return 2;                                   /* an enclosing object */
    }
    return 0;
}

static int check_unknown(const json_t *obj, const char *prefix, const char *where,
                         const wh_cfg_field *fields, int depth, char *errbuf, size_t errlen)
{
    const char *key;
    json_t *val;
    char path[256];
    if (depth > CFG_MAX_DEPTH)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key '%s': nested too deeply",
                         where, prefix);
    json_object_foreach((json_t *)obj, key, val) {
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
        switch (classify(fields, path)) {
        case 0:
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key '%s': unknown setting",
                             where, path);
        case 2:
            if (!json_is_object(val))
                return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                                 "%s: key '%s': expected an object", where, path);
            int rc = check_unknown(val, path, where, fields, depth + 1, errbuf, errlen);
            if (rc)
                return rc;
            break;
        default:
            break;
        }
    }
    return WH_OK;
}

static int apply_one(const wh_cfg_field *f, const json_t *v, const char *where, void *out,
                     char *errbuf, size_t errlen)
{
    char *slot = (char *)out + f->offset;
    bool ranged = f->min <= f->max;
    switch (f->type) {
    case WH_CFG_STRING: {
        if (!json_is_string(v))
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key '%s': expected a string",
                             where, f->key);
        char *s = strdup(json_string_value(v));
        if (!s)
            return WH_ERR_NOMEM;
        free(*(char **)slot);
        *(char **)slot = s;
        return WH_OK;
    }
    case WH_CFG_INT: {
        if (!json_is_integer(v))
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key '%s': expected an integer",
                             where, f->key);
        int64_t i = (int64_t)json_integer_value(v);
        if (ranged && (i < f->min || i > f->max))
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                             "%s: key '%s': %" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]",
                             where, f->key, i, f->min, f->max);
        *(int64_t *)slot = i;
        return WH_OK;
    }
    case WH_CFG_BOOL:
        if (!json_is_boolean(v))
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                             "%s: key '%s': expected true or false", where, f->key);
        *(bool *)slot = json_is_true(v);
        return WH_OK;
    case WH_CFG_DOUBLE: {
        if (!json_is_number(v))
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key '%s': expected a number",
                             where, f->key);
        double d = json_number_value(v);
        if (ranged && (d < (double)f->min || d > (double)f->max))
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                             "%s: key '%s': %g is out of range [%" PRId64 ", %" PRId64 "]",
                             where, f->key, d, f->min, f->max);
        *(double *)slot = d;
        return WH_OK;
    }
    case WH_CFG_JSON:
        json_decref(*(json_t **)slot);
        *(json_t **)slot = json_incref((json_t *)v);
        return WH_OK;
    }
    return WH_ERR_INVALID;
}

int wh_config_apply(const json_t *root, const char *where, const wh_cfg_field *fields,
                    void *out, char *errbuf, size_t errlen)
{
    if (!json_is_object(root))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: expected a JSON object", where);
    int rc = check_unknown(root, "", where, fields, 0, errbuf, errlen);
    if (rc)
        return rc;
    for (const wh_cfg_field *f = fields; f->key; f++) {
        const json_t *v = lookup(root, f->key);
        json_t *def = NULL;
        if (!v) {
            if (!f->def)
                return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                                 "%s: key '%s': required setting is missing (%s)", where,
                                 f->key, f->desc);
            def = json_loads(f->def, JSON_DECODE_ANY, NULL);
            if (!def)
                return wh_seterr(errbuf, errlen, WH_ERR_INVALID,
                                 "%s: key '%s': bad built-in default '%s'", where, f->key,
                                 f->def);
            v = def;
        }
        rc = apply_one(f, v, where, out, errbuf, errlen);
        json_decref(def);
        if (rc)
            return rc;
    }
    return WH_OK;
}

int wh_config_load_file(const char *path, const wh_cfg_field *fields, void *out,
                        char *errbuf, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (jerr.line < 0)
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: %s", path, jerr.text);
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s:%d:%d: %s", path, jerr.line,
                         jerr.column, jerr.text);
    }
    int rc = wh_config_apply(root, path, fields, out, errbuf, errlen);
    json_decref(root);
    if (rc)
        wh_config_free(fields, out);
    return rc;
}

void wh_config_free(const wh_cfg_field *fields, void *out)
{
    for (const wh_cfg_field *f = fields; f->key; f++) {
        char *slot = (char *)out + f->offset;
        if (f->type == WH_CFG_STRING) {
            free(*(char **)slot);
            *(char **)slot = NULL;
        } else if (f->type == WH_CFG_JSON) {
            json_decref(*(json_t **)slot);
            *(json_t **)slot = NULL;
        }
    }
}

void wh_config_print_help(FILE *out, const wh_cfg_field *fields)
{
    static const char *type_names[] = { "string", "integer", "boolean", "number", "json" };
    for (const wh_cfg_field *f = fields; f->key; f++) {
        fprintf(out, "  %-28s %-8s ", f->key, type_names[f->type]);
        if (f->def)
            fprintf(out, "default %s", f->def);
        else
            fprintf(out, "required");
        if (f->min <= f->max && (f->type == WH_CFG_INT || f->type == WH_CFG_DOUBLE))
            fprintf(out, ", range [%" PRId64 ", %" PRId64 "]", f->min, f->max);
        fprintf(out, "\n      %s\n", f->desc);
    }
}
