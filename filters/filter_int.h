/* filter_int.h -- internals shared by the filter module's files: the parse
 * tree, the compiled program and the helpers both parsers use.
 *
 * Life of a filter: a parser (filter_parse_text.c, filter_parse_json.c)
 * builds a filter_tree with the builder helpers of filter_tree.c (nodes,
 * keys, input and limit checks) and filter_const.c (constants);
 * filter_compile.c turns the tree into a flat program of predicate
 * instructions with true/false jump targets;
 * filter_eval.c runs that program for each update; filter_print.c prints
 * the tree back in either form. */
#ifndef WH_FILTER_INT_H
#define WH_FILTER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "filters/filter.h"

/* ---- the tree -------------------------------------------------------------- */

typedef enum filter_node_kind {
    FN_TRUE = 0,     /* matches everything (JSON true, text true, {"and":[]}) */
    FN_FALSE,        /* matches nothing (JSON false, text false, {"or":[]}) */
    FN_AND,          /* children: kids[first .. first+count) */
    FN_OR,
    FN_NOT,          /* one child: kids[first] */
    FN_EXISTS,       /* key */
    FN_NOT_EXISTS,
    FN_EQ,           /* key, one constant: consts[first] */
    FN_NE,
    FN_IN,           /* key, constants consts[first .. first+count) */
    FN_NOT_IN,
    FN__COUNT
} filter_node_kind;

typedef enum filter_key_kind {
    FK_OP = 0,       /* wh_update.op, compared by name */
    FK_DB,           /* wh_update.db (SQL ops only) */
    FK_TABLE,        /* wh_update.table (SQL ops only) */
    FK_SHARD,        /* wh_update.shard */
    FK_CF,           /* wh_update.table (key-value ops only) */
    FK_COLUMN,       /* a column of a row image */
    FK__COUNT
} filter_key_kind;

typedef enum filter_image {
    FI_ROW = 0,      /* after image, or before image if there is no after image */
    FI_BEFORE,
    FI_AFTER,
} filter_image;

typedef enum filter_const_kind {
    FC_NULL = 0,
    FC_BOOL,         /* true/false: compares as the number 1/0 */
    FC_NUMBER,       /* exact decimal: (-1)^neg x 0.DIGITS x 10^exp */
    FC_STRING,       /* UTF-8 text (may contain NUL) */
    FC_BYTES,        /* x'..' / {"hex":".."}: raw bytes */
} filter_const_kind;

/* Flags of a constant's derived numeric forms (set by filter_compile). */
#define FCN_I64 0x01  /* value is an integer in int64 range: i */
#define FCN_U64 0x02  /* value is an integer in uint64 range: u */
#define FCN_DBL 0x04  /* value rounds to a finite double: d */
#define FCN_FLT 0x08  /* value rounds to a finite float: fd (widened) */

/* What a constant can equal, derived at compile time. */
typedef enum filter_const_class {
    FCC_NULL = 0,
    FCC_NUM,         /* FC_NUMBER and FC_BOOL */
    FCC_STR,         /* FC_STRING and FC_BYTES */
} filter_const_class;

typedef struct filter_const {
    uint8_t  kind;       /* filter_const_kind */
    uint8_t  cls;        /* filter_const_class (derived) */
    uint8_t  numflags;   /* FCN_* (derived) */
    bool     boolean;    /* FC_BOOL */
    bool     neg;        /* FC_NUMBER: negative (never set for zero) */
    int32_t  exp;        /* FC_NUMBER: decimal exponent, see above */
    uint32_t len;        /* FC_NUMBER: digit count (0 for zero); STRING/BYTES: bytes */
    uint32_t off;        /* where the digits or bytes start in tree.pool */
    uint32_t src;        /* offset in the source, for messages */
    /* derived by filter_compile: */
    const char *s;       /* the digits or bytes (points into tree.pool) */
    int64_t  i;
    uint64_t u;
    double   d;
    double   fd;         /* the value rounded to float, widened back */
    uint64_t hash;       /* STR: filter_hash_bytes; NUM: filter_hash_digits */
} filter_const;

typedef struct filter_node {
    uint8_t  kind;       /* filter_node_kind */
    uint8_t  key;        /* filter_key_kind (predicates) */
    uint8_t  image;      /* filter_image (FK_COLUMN) */
    uint8_t  height;     /* 1 + the tallest child's height (limit WH_FILTER_MAX_DEPTH) */
    uint32_t src;        /* offset in the source, for messages */
    uint32_t name_off;   /* FK_COLUMN: column name in tree.pool */
    uint32_t name_len;
    uint32_t first;      /* first child in kids, or first constant in consts */
    uint32_t count;      /* number of children or constants */
} filter_node;

typedef struct filter_tree {
    filter_node  *nodes;
    uint32_t      nnodes, capnodes;
    uint32_t     *kids;      /* children of and/or/not, contiguous per node */
    uint32_t      nkids, capkids;
    filter_const *consts;    /* constants of predicates, contiguous per node */
    uint32_t      nconsts, capconsts;
    wh_buf        pool;      /* column names, digits, string bytes */
    uint32_t      root;
} filter_tree;

void filter_tree_free(filter_tree *t);

/* Adds a node; returns its index or -1 (out of memory, or WH_FILTER_MAX_NODES
 * reached: see filter_tree_full). */
int64_t filter_tree_node(filter_tree *t, filter_node_kind kind, uint32_t src);
bool filter_tree_full(const filter_tree *t);

/* Appends n child indexes as node's children. Returns 0 or WH_ERR_NOMEM. */
int filter_tree_set_kids(filter_tree *t, uint32_t node, const uint32_t *kids, uint32_t n);

/* Appends bytes and a NUL to the pool; returns their offset, or -1 on out
 * of memory. */
int64_t filter_tree_pool(filter_tree *t, const void *p, size_t n);

/* Appends a constant (its pool data already stored); returns its index or -1. */
int64_t filter_tree_const(filter_tree *t, const filter_const *c);

/* Classifies a key given as one string (the JSON form, docs/FILTERS.md):
 * metadata names, "before.NAME", "after.NAME", "row.NAME", otherwise a
 * column of the default image. Fills key, image and the column name's offset
 * and length (stored in the pool). Returns 0, WH_ERR_PARSE with a reason in
 * why (why must hold 160 bytes), or WH_ERR_NOMEM / WH_ERR_LIMIT. */
int filter_key_from_string(filter_tree *t, const char *s, size_t n, filter_node *node,
                           char *why, size_t whylen);

/* Metadata key named by [s, s+n) (case-insensitive), or -1. */
int filter_key_meta(const char *s, size_t n);

/* True if [s, s+n) names update metadata that filters do not test (ts,
 * pos, txn, statement): such a bare name is an error, not a column. */
bool filter_key_reserved(const char *s, size_t n);

/* Metadata key names by filter_key_kind ("op", "db", ...). */
extern const char *const filter_key_names[FK__COUNT];

/* ---- building helpers both parsers call ---------------------------------------------
 * Those taking (why, whylen) return 0, WH_ERR_NOMEM, or another wh_err code
 * with a reason written into why (128 bytes hold every reason but
 * filter_check_const's, which wants 256); the parser adds where the input
 * failed and words the message in its own way. */

/* Adds a node as filter_tree_node does, *out its index; WH_ERR_LIMIT when
 * the filter already holds WH_FILTER_MAX_NODES nodes. */
int filter_tree_add(filter_tree *t, filter_node_kind kind, size_t src, uint32_t *out,
                    char *why, size_t whylen);

/* Adds a predicate node of kind on the key parsed into key (key, image,
 * name) with the constants consts[first .. first+count); errors as
 * filter_tree_add. */
int filter_tree_pred(filter_tree *t, const filter_node *key, filter_node_kind kind, size_t src,
                     uint32_t first, uint32_t count, uint32_t *out, char *why, size_t whylen);

/* WH_ERR_LIMIT if a tree of this height (or parser nesting this deep)
 * exceeds WH_FILTER_MAX_DEPTH, else 0. */
int filter_tree_depth(unsigned height, char *why, size_t whylen);

/* Checks a whole filter source once before parsing: at most
 * WH_FILTER_MAX_TEXT bytes (else WH_ERR_LIMIT, *at = WH_FILTER_MAX_TEXT),
 * well-formed UTF-8 and, unless nul_ok, no NUL byte (else WH_ERR_PARSE, *at
 * the offending byte). */
int filter_check_input(const char *s, size_t n, bool nul_ok, size_t *at, char *why,
                       size_t whylen);

/* A growable stack of node indexes (children of and/or being collected).
 * Zero-initialised is empty; filter_stack_free releases it. */
typedef struct filter_stack {
    uint32_t *v;
    uint32_t  n, cap;
} filter_stack;

int filter_stack_push(filter_stack *s, uint32_t k);   /* 0 or WH_ERR_NOMEM */
void filter_stack_free(filter_stack *s);

/* Ends a parse that returns rc: words out of memory in errbuf (other
 * errors are already worded), stores root as t->root and frees the
 * parser's scratch and stack. Returns rc. */
int filter_parse_end(int rc, filter_tree *t, uint32_t root, wh_buf *scratch,
                     filter_stack *stack, char *errbuf, size_t errlen);

/* ---- constants (filter_const.c) -----------------------------------------------------
 * Building a constant: filter_const_room before reading it, then one of
 * filter_const_string / filter_const_hex / filter_tree_number (or the kind
 * and boolean set directly for null, true, false), then filter_const_add. */

/* Value 0..15 of a hex digit, or -1. */
int filter_hexval(char c);

/* The byte the one-character escape \e stands for in both forms (" \ / b f
 * n r t), or -1 (the text form adds \' itself). */
int filter_escape_char(char e);

/* Decodes the escape \uXXXX whose backslash is at s[esc], taking the
 * \uXXXX low surrogate that must follow a high surrogate; no byte at or
 * after s[end] is read. On success *cp is the code point and *next the
 * offset just after the escape(s). On failure returns WH_ERR_PARSE with a
 * reason in why and in *at the backslash of the escape at fault: esc, or the
 * second escape's when its hex digits are bad. */
int filter_unicode_escape(const char *s, size_t end, size_t esc, uint32_t *cp, size_t *next,
                          size_t *at, char *why, size_t whylen);

/* Scans the number syntax both forms share after the sign,
 * DIGITS ('.' DIGITS)? ([eE] [+-]? DIGITS)?, from *i (at a digit, checked by
 * the caller); no byte at or after s[n] is read. Returns true with *i just
 * after the number, or false with *i where a digit is missing and *in_exp
 * telling whether that is in the exponent (else after the '.'). */
bool filter_scan_number(const char *s, size_t n, size_t *i, bool *in_exp);

/* Normalizes the number text [s, s+n) (syntax already checked by the
 * caller: -?DIGITS(.DIGITS)?([eE][+-]?DIGITS)?) into c (kind, neg, exp, len,
 * off, src left to the caller). On failure returns WH_ERR_LIMIT with a reason
 * in *why (static text) or WH_ERR_NOMEM. */
int filter_tree_number(filter_tree *t, const char *s, size_t n, filter_const *c,
                       const char **why);

/* Checks a constant against a metadata key at parse time. Returns 0, or
 * WH_ERR_TYPE with a reason in why. */
int filter_check_const(const filter_tree *t, const filter_node *node, const filter_const *c,
                       char *why, size_t whylen);

/* WH_ERR_LIMIT if the tree already holds WH_FILTER_MAX_CONSTANTS constants. */
int filter_const_room(const filter_tree *t, char *why, size_t whylen);

/* Makes c a FC_STRING of the n bytes at s (copied into the pool). 0 or
 * WH_ERR_NOMEM. */
int filter_const_string(filter_tree *t, const char *s, size_t n, filter_const *c);

/* Makes c a FC_BYTES of the bytes written as the nd hex digits at hex (an
 * even count of valid digits: the caller checked them). 0 or WH_ERR_NOMEM. */
int filter_const_hex(filter_tree *t, const char *hex, size_t nd, filter_const *c);

/* Sets c's source offset, type-checks it against the key (filter_check_const:
 * WH_ERR_TYPE with why) and appends it to the tree (WH_ERR_NOMEM). */
int filter_const_add(filter_tree *t, const filter_node *key, filter_const *c, size_t src,
                     char *why, size_t whylen);

/* Structural equality of two trees (wh_filter_equal). */
bool filter_tree_equal(const filter_tree *a, const filter_tree *b);

/* Case-insensitive comparison of [s, s+n) with the lower-case word w. */
bool filter_word_eq(const char *s, size_t n, const char *w);


/* Column name of a node as a pointer into the pool (not NUL-terminated). */
static inline const char *filter_node_name(const filter_tree *t, const filter_node *n)
{
    return t->pool.data + n->name_off;
}
static inline const char *filter_const_bytes(const filter_tree *t, const filter_const *c)
{
    return t->pool.data + c->off;
}

/* ---- the compiled program ---------------------------------------------------- */

/* Jump targets below zero end the evaluation. */
#define FILTER_LBL_TRUE  (-1)
#define FILTER_LBL_FALSE (-2)

typedef enum filter_ins_code {
    FINS_OPMASK = 0,     /* (1 << u->op) & opmask */
    FINS_META_EXISTS,    /* metadata string present */
    FINS_META_EQ,        /* metadata string equals c */
    FINS_META_IN,        /* metadata string in set */
    FINS_COL_EXISTS,     /* column present in the image */
    FINS_COL_EQ,         /* column value equals c */
    FINS_COL_IN,         /* column value in set */
} filter_ins_code;

/* Open-addressing hash table of constant indexes (one per value family). */
typedef struct filter_htab {
    uint64_t *hash;      /* per slot; valid where ref != UINT32_MAX */
    uint32_t *ref;       /* constant index in the set, UINT32_MAX = empty */
    uint32_t  mask;      /* capacity - 1; capacity 0 when the table is unused */
} filter_htab;

typedef struct filter_set {
    const filter_const *c;     /* the constants (in the tree) */
    uint32_t  n;
    bool      has_null;
    bool      hashed;          /* false: small, scanned linearly */
    filter_htab ints;          /* integers (I64 or U64), hash of the 64-bit pattern */
    filter_htab dbls;          /* doubles */
    filter_htab flts;          /* floats (widened) */
    filter_htab decs;          /* exact decimals, filter_hash_digits */
    filter_htab strs;          /* strings and bytes, filter_hash_bytes */
} filter_set;

typedef struct filter_ins {
    uint8_t  code;       /* filter_ins_code */
    uint8_t  key;        /* filter_key_kind */
    uint8_t  image;      /* filter_image */
    uint32_t slot;       /* column slot */
    int32_t  on_true;    /* next instruction, or a FILTER_LBL_* */
    int32_t  on_false;
    uint32_t opmask;     /* FINS_OPMASK */
    const filter_const *c;     /* FINS_*_EQ */
    const filter_set   *set;   /* FINS_*_IN */
} filter_ins;

#define FILTER_CACHE_WAYS 4

typedef struct filter_cache_entry {
    uint64_t schema_id;        /* 0 = unused */
    bool     valid[2];         /* [0] before image resolved, [1] after image */
    int32_t *idx[2];           /* column index per slot, -1 = not in the row */
} filter_cache_entry;

struct wh_filter {
    filter_tree  tree;
    filter_ins  *prog;
    uint32_t     nprog;
    int32_t      entry;              /* first instruction or a label */
    filter_set  *sets;
    uint32_t     nsets;
    const char **slot_name;          /* distinct column names */
    uint32_t    *slot_len;
    uint32_t     nslots;
    filter_cache_entry cache[FILTER_CACHE_WAYS];
    int32_t     *cache_mem;          /* backing store of every cache idx array */
    uint32_t     cache_next;         /* round-robin victim */
    uint32_t     cache_last;         /* way of the last hit, tried first */
};

/* Parse the text or JSON form into an empty tree t (t->root set on success).
 * Errors as documented for wh_filter_parse_text / wh_filter_parse_json. */
int filter_parse_text_tree(const char *text, size_t len, filter_tree *t,
                           char *errbuf, size_t errlen);
int filter_parse_json_tree(const char *json, size_t len, filter_tree *t,
                           char *errbuf, size_t errlen);

/* Compiles f->tree into the program. Returns 0 or WH_ERR_NOMEM. */
int filter_compile(wh_filter *f);

/* Frees a filter's compiled parts (not the tree). */
void filter_compile_free(wh_filter *f);

/* Hashes shared by the compiler and the evaluator. */
static inline uint64_t filter_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

uint64_t filter_hash_bytes(const void *p, size_t n);

/* Hash of an exact decimal given by its significant digits (no leading or
 * trailing zeros), sign and exponent; digits may be interrupted by one '.'
 * which is skipped. */
uint64_t filter_hash_digits(const char *s, size_t n, bool neg, int32_t exp);

/* ---- error positions --------------------------------------------------------- */

/* Line and column (1-based, column in characters) of a byte offset. */
void filter_line_col(const char *src, size_t len, size_t off, unsigned *line, unsigned *col);

#endif
