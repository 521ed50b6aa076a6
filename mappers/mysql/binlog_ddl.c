/* binlog_ddl.c -- the one table a DDL statement changes, read by a small SQL lexer (binlog_ddl.h).
 *
 * The lexer knows just enough of MySQL's lexical rules to step over any
 * statement head exactly: blanks, the three kinds of comments, executable
 * comments, words, backquoted and double-quoted identifiers, strings and
 * single punctuation characters. The parser then reads the few statement
 * shapes that name tables. Whenever the text is not what the server could
 * have accepted (a quote or comment that never ends, a NUL byte, invalid
 * UTF-8, an overlong name) the answer is "no table": a missing table makes
 * a filter miss a statement it could have seen, a wrong one would send it
 * to the wrong subscribers. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "core/utf8.h"
#include "mappers/mysql/binlog_ddl.h"
#include "wormhole/error.h"

typedef enum ddl_kind {
    TK_END,      /* end of the statement */
    TK_WORD,     /* a run of [A-Za-z0-9_$] and bytes >= 0x80: keyword or plain name */
    TK_BQUOTED,  /* `name`: s/len is the text between the quotes, `` not yet undone */
    TK_DQUOTED,  /* "name" (an identifier under ANSI_QUOTES, else a string) */
    TK_STRING,   /* 'text' */
    TK_PUNCT,    /* one other character: . , ( ) ; = ... */
    TK_BAD,      /* text the server cannot have accepted: stop, no table */
} ddl_kind;

typedef struct ddl_token {
    ddl_kind    kind;
    const char *s;
    size_t      len;
} ddl_token;

typedef struct ddl_lexer {
    const char *p, *end;
    bool        exec;    /* inside an executable comment, whose closing star-slash is a blank */
    ddl_token   tok;     /* the current token (one token of lookahead) */
} ddl_lexer;

static bool is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '$' || c >= 0x80;
}

static bool is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Steps over blanks and comments. Returns false on a comment that never ends. */
static bool skip_blanks(ddl_lexer *lx)
{
    const char *p = lx->p, *end = lx->end;
    for (;;) {
        while (p < end && is_blank((unsigned char)*p))
            p++;
        size_t left = (size_t)(end - p);
        if (left >= 2 && p[0] == '/' && p[1] == '*') {
            const char *q = p + 2;
            if (q < end && *q == 'M' && q + 1 < end && q[1] == '!')
                q++;
            if (q < end && *q == '!') {
                /* Executable comment: its contents are statement text. */
                if (lx->exec)
                    return false;           /* the server does not nest them either */
                q++;
                while (q < end && *q >= '0' && *q <= '9')
                    q++;
                lx->exec = true;
                p = q;
                continue;
            }
            q = p + 2;
            while (end - q >= 2 && !(q[0] == '*' && q[1] == '/'))
                q++;
            if (end - q < 2)
                return false;
            p = q + 2;
            continue;
        }
        if (left >= 2 && lx->exec && p[0] == '*' && p[1] == '/') {
            lx->exec = false;
            p += 2;
            continue;
        }
        /* "--" starts a comment only when a blank or control character (or
         * the end) follows; "#" always does. Both run to the end of the line. */
        if ((left >= 2 && p[0] == '-' && p[1] == '-' &&
             (left == 2 || (unsigned char)p[2] <= ' ')) || (left >= 1 && p[0] == '#')) {
            while (p < end && *p != '\n')
                p++;
            continue;
        }
        lx->p = p;
        return true;
    }
}

/* Steps over a quoted run starting at the opening quote q. A doubled quote
 * stands for one; with backslash, a backslash escapes the next byte. Returns
 * the position after the closing quote, or NULL when there is none. */
static const char *skip_quoted(const char *p, const char *end, char q, bool backslash)
{
    for (p++; p < end; p++) {
        if (backslash && *p == '\\') {
            if (++p == end)
                return NULL;
        } else if (*p == q) {
            if (p + 1 < end && p[1] == q)
                p++;
            else
                return p + 1;
        }
    }
    return NULL;
}

/* Reads the next token into lx->tok. */
static void lex_next(ddl_lexer *lx)
{
    ddl_token *t = &lx->tok;
    if (t->kind == TK_BAD)
        return;                             /* sticky: nothing after it is trusted */
    if (!skip_blanks(lx)) {
        t->kind = TK_BAD;
        return;
    }
    const char *p = lx->p, *end = lx->end;
    t->s = p;
    t->len = 0;
    if (p == end) {
        t->kind = TK_END;
        return;
    }
    unsigned char c = (unsigned char)*p;
    const char *after;
    if (is_word_byte(c)) {
        while (p < end && is_word_byte((unsigned char)*p))
            p++;
        t->kind = TK_WORD;
        t->len = (size_t)(p - t->s);
        lx->p = p;
        return;
    }
    switch (c) {
    case '`':
        after = skip_quoted(p, end, '`', false);
        t->kind = TK_BQUOTED;
        break;
    case '"':
        /* The lexer only needs the end of the run: a backslash escapes in a
         * string, and a name holding one is refused below (ANSI_QUOTES or not
         * is not known here). */
        after = skip_quoted(p, end, '"', true);
        t->kind = TK_DQUOTED;
        break;
    case '\'':
        after = skip_quoted(p, end, '\'', true);
        t->kind = TK_STRING;
        break;
    default:
        if (c < ' ' && !is_blank(c)) {      /* NUL and other control bytes */
            t->kind = TK_BAD;
            return;
        }
        t->kind = TK_PUNCT;
        t->len = 1;
        lx->p = p + 1;
        return;
    }
    if (!after) {
        t->kind = TK_BAD;
        return;
    }
    t->s = p + 1;
    t->len = (size_t)(after - p) - 2;
    lx->p = after;
}

/* ---- the parser ------------------------------------------------------------------- */

static bool is_kw(const ddl_token *t, const char *kw)
{
    size_t n = strlen(kw);
    return t->kind == TK_WORD && t->len == n && strncasecmp(t->s, kw, n) == 0;
}

/* Consumes the keyword kw if it is the current token. */
static bool accept(ddl_lexer *lx, const char *kw)
{
    if (!is_kw(&lx->tok, kw))
        return false;
    lex_next(lx);
    return true;
}

static bool is_punct(const ddl_token *t, char c)
{
    return t->kind == TK_PUNCT && t->s[0] == c;
}

/* An identifier: a plain word that is not all digits, or a quoted name. */
static bool is_ident(const ddl_token *t)
{
    if (t->kind == TK_BQUOTED || t->kind == TK_DQUOTED)
        return true;
    if (t->kind != TK_WORD)
        return false;
    for (size_t i = 0; i < t->len; i++)
        if (t->s[i] < '0' || t->s[i] > '9')
            return true;
    return false;
}

/* A table name: ident or ident.ident. */
typedef struct ddl_name {
    ddl_token db, table;
    bool      qualified;
} ddl_name;

static bool parse_name(ddl_lexer *lx, ddl_name *nm)
{
    if (!is_ident(&lx->tok))
        return false;
    nm->table = lx->tok;
    nm->qualified = false;
    lex_next(lx);
    if (is_punct(&lx->tok, '.')) {
        lex_next(lx);
        if (!is_ident(&lx->tok))
            return false;
        nm->db = nm->table;
        nm->table = lx->tok;
        nm->qualified = true;
        lex_next(lx);
    }
    return true;
}

/* IF EXISTS (with not: IF NOT EXISTS), when present. False when IF starts
 * something else. */
static bool opt_if_exists(ddl_lexer *lx, bool not)
{
    if (!accept(lx, "IF"))
        return true;
    if (not && !accept(lx, "NOT"))
        return false;
    return accept(lx, "EXISTS");
}

/* WAIT n | NOWAIT (MariaDB's lock wait), when present. */
static void opt_wait(ddl_lexer *lx)
{
    if (accept(lx, "WAIT")) {
        if (lx->tok.kind == TK_WORD)
            lex_next(lx);
    } else {
        accept(lx, "NOWAIT");
    }
}

/* The rest of CREATE INDEX / DROP INDEX after INDEX: [IF [NOT] EXISTS]
 * name [USING type] ON table. */
static bool parse_index(ddl_lexer *lx, bool create, ddl_name *nm)
{
    if (!opt_if_exists(lx, create) || !is_ident(&lx->tok))
        return false;
    lex_next(lx);
    if (create && accept(lx, "USING")) {
        if (lx->tok.kind != TK_WORD)
            return false;
        lex_next(lx);
    }
    return accept(lx, "ON") && parse_name(lx, nm);
}

static bool parse_create(ddl_lexer *lx, ddl_name *nm)
{
    if (accept(lx, "OR") && !accept(lx, "REPLACE"))
        return false;
    bool temporary = accept(lx, "TEMPORARY");
    if (accept(lx, "TABLE"))
        return opt_if_exists(lx, true) && parse_name(lx, nm);
    if (temporary)
        return false;
    while (accept(lx, "UNIQUE") || accept(lx, "FULLTEXT") || accept(lx, "SPATIAL") ||
           accept(lx, "ONLINE") || accept(lx, "OFFLINE"))
        ;
    return accept(lx, "INDEX") && parse_index(lx, true, nm);
}

static bool parse_alter(ddl_lexer *lx, ddl_name *nm)
{
    while (accept(lx, "ONLINE") || accept(lx, "OFFLINE") || accept(lx, "IGNORE"))
        ;
    if (!accept(lx, "TABLE") || !opt_if_exists(lx, false) || !parse_name(lx, nm))
        return false;
    /* EXCHANGE PARTITION p WITH TABLE u changes u too. Read to the end, so
     * the whole statement must lex. */
    bool exchange = false;
    while (lx->tok.kind != TK_END && lx->tok.kind != TK_BAD) {
        if (exchange && is_kw(&lx->tok, "PARTITION"))
            return false;
        exchange = is_kw(&lx->tok, "EXCHANGE");
        lex_next(lx);
    }
    return lx->tok.kind == TK_END;
}

static bool parse_drop(ddl_lexer *lx, ddl_name *nm)
{
    bool temporary = accept(lx, "TEMPORARY");
    if (accept(lx, "TABLE") || accept(lx, "TABLES"))
        return opt_if_exists(lx, false) && parse_name(lx, nm) && !is_punct(&lx->tok, ',') &&
               lx->tok.kind != TK_BAD;
    if (temporary)
        return false;
    while (accept(lx, "ONLINE") || accept(lx, "OFFLINE"))
        ;
    return accept(lx, "INDEX") && parse_index(lx, false, nm);
}

static bool parse_rename(ddl_lexer *lx, ddl_name *nm)
{
    ddl_name to;
    if (!(accept(lx, "TABLE") || accept(lx, "TABLES")) || !opt_if_exists(lx, false) ||
        !parse_name(lx, nm))
        return false;
    opt_wait(lx);
    return accept(lx, "TO") && parse_name(lx, &to) && !is_punct(&lx->tok, ',') &&
           lx->tok.kind != TK_BAD;
}

static bool parse_truncate(ddl_lexer *lx, ddl_name *nm)
{
    /* TABLE is optional: TRUNCATE t. A table named TABLE must be quoted. */
    accept(lx, "TABLE");
    return parse_name(lx, nm);
}

/* Copies an identifier's name into a, undoing doubled quotes. NULL (with
 * *nomem false) when it is not a name the server accepts. */
static char *name_copy(const ddl_token *t, wh_arena *a, bool *nomem)
{
    char quote = t->kind == TK_BQUOTED ? '`' : t->kind == TK_DQUOTED ? '"' : 0;
    if (t->len == 0 || memchr(t->s, '\0', t->len) ||
        (t->kind == TK_DQUOTED && memchr(t->s, '\\', t->len)))
        return NULL;
    if (!wh_utf8_valid((const uint8_t *)t->s, t->len, NULL))
        return NULL;
    size_t chars = 0;
    for (size_t i = 0; i < t->len; i++)
        chars += ((unsigned char)t->s[i] & 0xc0) != 0x80;
    if (chars > BINLOG_DDL_NAME_CHARS * 2)
        return NULL;                       /* cheap bound before copying */
    char *out = wh_arena_alloc(a, t->len + 1);
    if (!out) {
        *nomem = true;
        return NULL;
    }
    size_t n = 0;
    chars = 0;
    for (size_t i = 0; i < t->len; i++) {
        out[n++] = t->s[i];
        chars += ((unsigned char)t->s[i] & 0xc0) != 0x80;
        if (quote && t->s[i] == quote)
            i++;                           /* the lexer guarantees the pair */
    }
    out[n] = '\0';
    if (chars > BINLOG_DDL_NAME_CHARS)
        return NULL;
    return out;
}

int binlog_ddl_table(const char *q, size_t len, const char *def_db, size_t def_dblen,
                     wh_arena *a, const char **db, const char **table)
{
    *db = *table = NULL;
    ddl_lexer lx = { .p = q, .end = q + len, .exec = false, .tok = { TK_END, q, 0 } };
    ddl_name nm;
    bool found = false;
    lex_next(&lx);
    if (accept(&lx, "CREATE"))
        found = parse_create(&lx, &nm);
    else if (accept(&lx, "ALTER"))
        found = parse_alter(&lx, &nm);
    else if (accept(&lx, "DROP"))
        found = parse_drop(&lx, &nm);
    else if (accept(&lx, "RENAME"))
        found = parse_rename(&lx, &nm);
    else if (accept(&lx, "TRUNCATE"))
        found = parse_truncate(&lx, &nm);
    if (!found)
        return 0;

    bool nomem = false;
    char *t = name_copy(&nm.table, a, &nomem);
    if (!t)
        return nomem ? WH_ERR_NOMEM : 0;
    if (!nm.qualified) {
        if (def_dblen == 0)
            return 0;                      /* no database: the server refused it */
        char *d = wh_arena_strndup(a, def_db, def_dblen);
        if (!d)
            return WH_ERR_NOMEM;
        *db = d;
        *table = t;
        return 1;
    }
    char *d = name_copy(&nm.db, a, &nomem);
    if (!d)
        return nomem ? WH_ERR_NOMEM : 0;
    if (def_dblen && (strlen(d) != def_dblen || memcmp(d, def_db, def_dblen) != 0))
        return 0;                          /* a table of another database */
    *db = d;
    *table = t;
    return 1;
}
