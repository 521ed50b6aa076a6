/* filter.c -- the public entry points of filters: parse (either form),
 * compare, free. */
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "filters/filter_int.h"

typedef int (*tree_parser)(const char *, size_t, filter_tree *, char *, size_t);

static int parse_with(tree_parser parse, const char *src, size_t len, wh_filter **out,
                      char *errbuf, size_t errlen)
{
    if (!out)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "filter: no output pointer given");
    *out = NULL;
    if (!src && len)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "filter: no text given");
    if (!src)
        src = "";
    wh_filter *f = calloc(1, sizeof *f);
    if (!f)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "filter: out of memory");
    int rc = parse(src, len, &f->tree, errbuf, errlen);
    if (rc != WH_OK)
        goto err;
    rc = filter_compile(f);
    if (rc != WH_OK) {
        wh_seterr(errbuf, errlen, rc, "filter: out of memory while compiling");
        goto err;
    }
    *out = f;
    return WH_OK;
err:
    wh_filter_free(f);
    return rc;
}

int wh_filter_parse_text(const char *text, size_t len, wh_filter **out, char *errbuf,
                         size_t errlen)
{
    return parse_with(filter_parse_text_tree, text, len, out, errbuf, errlen);
}

int wh_filter_parse_json(const char *json, size_t len, wh_filter **out, char *errbuf,
                         size_t errlen)
{
    return parse_with(filter_parse_json_tree, json, len, out, errbuf, errlen);
}

int wh_filter_parse(const char *src, size_t len, wh_filter **out, char *errbuf, size_t errlen)
{
    size_t i = 0;
    while (src && i < len && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' ||
                              src[i] == '\r' || src[i] == '\f' || src[i] == '\v'))
        i++;
    if (src && i < len && src[i] == '{')
        return wh_filter_parse_json(src, len, out, errbuf, errlen);
    return wh_filter_parse_text(src, len, out, errbuf, errlen);
}

bool wh_filter_equal(const wh_filter *a, const wh_filter *b)
{
    if (!a || !b)
        return a == b;
    return filter_tree_equal(&a->tree, &b->tree);
}

void wh_filter_free(wh_filter *f)
{
    if (!f)
        return;
    filter_compile_free(f);
    filter_tree_free(&f->tree);
    free(f);
}
