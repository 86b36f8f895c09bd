/*
 * flbhost: Fluent Bit configuration files.
 *  - classic format (flb_cf_fluentbit.c rules: '#' comments at the start of
 *    a line or after the indentation, one consistent indentation per file,
 *    "key value" split at the first space, empty values rejected,
 *    @INCLUDE (with globs) and @SET KEY=VALUE metas)
 *  - a restricted YAML subset: env:, service:, plugins:, includes:,
 *    pipeline: inputs:/filters:/outputs: lists of flat maps (a list of
 *    scalars as a value repeats the key).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"

#define MAX_FILES 1000

static int nfiles_read;
static char *files_read[MAX_FILES];

struct outdef *config_add_output(struct config *c, const char *name, const char *origin)
{
    struct outdef *o;
    c->outs = xrealloc(c->outs, sizeof(struct outdef) * (size_t) (c->nouts + 1));
    o = &c->outs[c->nouts++];
    memset(o, 0, sizeof(*o));
    o->name = name ? xstrdup(name) : NULL;
    o->origin = xstrdup(origin);
    return o;
}

void config_add_plugin(struct config *c, const char *path)
{
    int i;
    for (i = 0; i < c->nplugins; i++) {
        if (strcmp(c->plugins[i], path) == 0) {
            return;
        }
    }
    c->plugins = xrealloc(c->plugins, sizeof(char *) * (size_t) (c->nplugins + 1));
    c->plugins[c->nplugins++] = xstrdup(path);
}

static int is_yaml(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && (strcasecmp(dot, ".yaml") == 0 || strcasecmp(dot, ".yml") == 0);
}

/* Fluent Bit resolves a relative included/plugins file first against the
 * current directory, then against the main config's directory. */
static char *resolve(struct config *c, const char *path)
{
    struct stat st;
    char tmp[PATH_MAX];

    if (stat(path, &st) == 0 || path[0] == '/' || !c->conf_dir) {
        return xstrdup(path);
    }
    snprintf(tmp, sizeof(tmp), "%s%s", c->conf_dir, path);
    return xstrdup(tmp);
}

static int mark_read(const char *path)
{
    char real[PATH_MAX];
    int i;
    if (!realpath(path, real)) {
        return 0;
    }
    for (i = 0; i < nfiles_read; i++) {
        if (strcmp(files_read[i], real) == 0) {
            hlog(FLB_LOG_WARN, "[config] Read twice. path=%s", path);
            return -1;
        }
    }
    if (nfiles_read >= MAX_FILES) {
        hlog(FLB_LOG_ERROR, "Too many config files. Limit = %d", MAX_FILES);
        return -1;
    }
    files_read[nfiles_read++] = xstrdup(real);
    return 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = xmalloc((size_t) n + 2);
    if (n > 0 && fread(buf, 1, (size_t) n, f) != (size_t) n) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    if (len) {
        *len = (size_t) n;
    }
    return buf;
}

/* ------------------------------------------------------------------ */
/* classic format                                                      */
/* ------------------------------------------------------------------ */

enum sect { S_NONE, S_SERVICE, S_INPUT, S_FILTER, S_OUTPUT, S_PLUGINS, S_OTHER };

static int classic_file(struct config *c, const char *path, int plugins_only);

static int classic_include(struct config *c, const char *spec, int plugins_only)
{
    int ret = 0;
    size_t i;
    glob_t g;
    char tmp[PATH_MAX];
    char *p;

    if (strchr(spec, '*')) {
        if (spec[0] != '/' && c->conf_dir) {
            snprintf(tmp, sizeof(tmp), "%s%s", c->conf_dir, spec);
        }
        else {
            snprintf(tmp, sizeof(tmp), "%s", spec);
        }
        if (glob(tmp, 0, NULL, &g) != 0) {
            hlog(FLB_LOG_WARN, "[read_glob] glob: [%s] no match", tmp);
            return -1;
        }
        for (i = 0; i < g.gl_pathc && ret == 0; i++) {
            ret = classic_file(c, g.gl_pathv[i], plugins_only);
        }
        globfree(&g);
        return ret;
    }
    p = resolve(c, spec);
    ret = classic_file(c, p, plugins_only);
    free(p);
    return ret;
}

static int classic_file(struct config *c, const char *path, int plugins_only)
{
    char *buf;
    char *line;
    char *next;
    char *indent = NULL;
    size_t indent_len = 0;
    int lineno = 0;
    enum sect sect = S_NONE;
    struct outdef *out = NULL;
    int in_group = 0;

    if (mark_read(path) != 0) {
        return -1;
    }
    buf = read_file(path, NULL);
    if (!buf) {
        hlog(FLB_LOG_WARN, "[config] I cannot open %s file", path);
        return -1;
    }

    for (line = buf; line; line = next) {
        size_t len;
        size_t lead;
        char *key;
        char *val;
        char *sp;

        next = strchr(line, '\n');
        if (next) {
            *next++ = '\0';
        }
        lineno++;
        len = strlen(line);
        if (len && line[len - 1] == '\r') {
            line[--len] = '\0';
        }
        if (len == 0 || line[0] == '#') {
            continue;
        }
        if (len > 9 && strncasecmp(line, "@INCLUDE ", 9) == 0) {
            if (classic_include(c, line + 9, plugins_only) != 0) {
                hlog(FLB_LOG_ERROR, "[config] error in %s:%d: cannot include '%s'",
                     path, lineno, line + 9);
                free(buf);
                return -1;
            }
            continue;
        }
        if (line[0] == '@' && len > 3) {
            if (strncasecmp(line, "@SET ", 5) == 0) {
                char *eq = strchr(line + 5, '=');
                if (!eq) {
                    hlog(FLB_LOG_ERROR, "[config] error in %s:%d: invalid @SET", path, lineno);
                    free(buf);
                    return -1;
                }
                *eq = '\0';
                kv_set(&g_env, trim(line + 5), trim(eq + 1));
            }
            continue;
        }
        if (line[0] == '[') {
            char *end = strchr(line, ']');
            if (!end || end == line + 1) {
                hlog(FLB_LOG_ERROR, "[config] error in %s:%d: bad header definition",
                     path, lineno);
                free(buf);
                return -1;
            }
            *end = '\0';
            key = trim(line + 1);
            in_group = 0;
            out = NULL;
            if (strcasecmp(key, "SERVICE") == 0) sect = S_SERVICE;
            else if (strcasecmp(key, "INPUT") == 0) sect = S_INPUT;
            else if (strcasecmp(key, "FILTER") == 0) sect = S_FILTER;
            else if (strcasecmp(key, "OUTPUT") == 0) sect = S_OUTPUT;
            else if (strcasecmp(key, "PLUGINS") == 0) sect = S_PLUGINS;
            else sect = S_OTHER;
            if (sect == S_OUTPUT && !plugins_only) {
                char origin[PATH_MAX + 32];
                snprintf(origin, sizeof(origin), "%s:%d", path, lineno);
                out = config_add_output(c, NULL, origin);
            }
            if (sect == S_INPUT && !plugins_only) {
                c->ninputs++;
            }
            continue;
        }

        /* indentation: the first indented line fixes it for the file */
        lead = 0;
        while (lead < len && (line[lead] == ' ' || line[lead] == '\t')) {
            lead++;
        }
        if (lead == len) {
            continue;
        }
        if (!indent) {
            if (lead == 0) {
                hlog(FLB_LOG_ERROR, "[config] error in %s:%d: invalid indentation level",
                     path, lineno);
                free(buf);
                return -1;
            }
            indent = xstrndup(line, lead);
            indent_len = lead;
        }
        if (lead < indent_len || strncmp(line, indent, indent_len) != 0) {
            hlog(FLB_LOG_ERROR, "[config] %s",
                 lead && lead < indent_len ? "indentation level is too low"
                                           : "inconsistent use of tab and space");
            hlog(FLB_LOG_ERROR, "[config] error in %s:%d: invalid indentation level",
                 path, lineno);
            free(buf);
            free(indent);
            return -1;
        }
        if (lead > indent_len) {
            if (lead != indent_len * 2 || !in_group) {
                hlog(FLB_LOG_ERROR, "[config] extra indentation level found");
                hlog(FLB_LOG_ERROR, "[config] error in %s:%d: invalid indentation level",
                     path, lineno);
                free(buf);
                free(indent);
                return -1;
            }
            continue; /* group content: not used by outputs */
        }
        in_group = 0;
        key = line + lead;
        if (key[0] == '#') {
            continue;
        }
        if (key[0] == '[') {
            in_group = 1; /* group header inside a section */
            continue;
        }
        sp = strchr(key, ' ');
        if (!sp) {
            hlog(FLB_LOG_ERROR, "[config] error in %s:%d: undefined value - check config is in valid classic format",
                 path, lineno);
            free(buf);
            free(indent);
            return -1;
        }
        *sp = '\0';
        val = trim(sp + 1);
        key = trim(key);
        if (*val == '\0') {
            hlog(FLB_LOG_ERROR, "[config] error in %s:%d: key has an empty value", path, lineno);
            free(buf);
            free(indent);
            return -1;
        }
        switch (sect) {
        case S_SERVICE:
            if (!plugins_only) {
                kv_add(&c->service, key, val);
            }
            break;
        case S_INPUT:
            if (plugins_only) break;
            if (strcasecmp(key, "name") == 0 && !c->input_name && c->ninputs == 1) {
                c->input_name = xstrdup(val);
            }
            if (strcasecmp(key, "tag") == 0 && !c->input_tag && c->ninputs == 1) {
                c->input_tag = xstrdup(val);
            }
            break;
        case S_OUTPUT:
            if (plugins_only || !out) break;
            if (strcasecmp(key, "name") == 0) {
                if (!out->name) {
                    out->name = xstrdup(val);
                }
            }
            else {
                kv_add(&out->props, key, val);
            }
            break;
        case S_PLUGINS:
            if (strcasecmp(key, "path") == 0) {
                char *t = env_translate(val);
                config_add_plugin(c, t);
                free(t);
            }
            break;
        default:
            break;
        }
    }
    free(indent);
    free(buf);
    return 0;
}

/* ------------------------------------------------------------------ */
/* restricted YAML                                                     */
/* ------------------------------------------------------------------ */

enum ytype { Y_SCALAR, Y_MAP, Y_LIST };

struct ynode {
    enum ytype type;
    char *scalar;
    char **keys;          /* map */
    struct ynode **vals;  /* map values or list items */
    int n;
};

struct yline {
    int indent;
    int item;             /* a "- " list item marker */
    char *text;           /* content (after the marker for items) */
    int col;              /* column of the content */
    int lineno;
};

struct yparser {
    struct yline *l;
    int n;
    int pos;
    const char *path;
    int error;
};

static void yerr(struct yparser *p, int lineno, const char *msg)
{
    if (!p->error) {
        hlog(FLB_LOG_ERROR, "[config] YAML error in %s:%d: %s (flbhost supports a YAML subset)",
             p->path, lineno, msg);
    }
    p->error = 1;
}

/* strip a trailing " # comment" that is outside quotes */
static void strip_comment(char *s)
{
    char q = 0;
    char *p;
    for (p = s; *p; p++) {
        if (q) {
            if (*p == q) q = 0;
        }
        else if (*p == '\'' || *p == '"') {
            if (p == s || isspace((unsigned char) p[-1]) || p[-1] == ':') q = *p;
        }
        else if (*p == '#' && (p == s || isspace((unsigned char) p[-1]))) {
            *p = '\0';
            break;
        }
    }
}

/* find "key:" separator outside quotes; returns pointer to ':' or NULL */
static char *find_colon(char *s)
{
    char q = 0;
    char *p;
    for (p = s; *p; p++) {
        if (q) {
            if (*p == q) q = 0;
        }
        else if (p == s && (*p == '\'' || *p == '"')) {
            q = *p;
        }
        else if (*p == ':' && (p[1] == '\0' || p[1] == ' ')) {
            return p;
        }
    }
    return NULL;
}

static char *yscalar(const char *in)
{
    char *s = xstrdup(in);
    char *t = trim(s);
    size_t n = strlen(t);
    char *out;

    if (n >= 2 && t[0] == '\'' && t[n - 1] == '\'') {
        size_t i;
        size_t j = 0;
        out = xmalloc(n);
        for (i = 1; i < n - 1; i++) {
            if (t[i] == '\'' && t[i + 1] == '\'') i++;
            out[j++] = t[i];
        }
        out[j] = '\0';
    }
    else if (n >= 2 && t[0] == '"' && t[n - 1] == '"') {
        size_t i;
        size_t j = 0;
        out = xmalloc(n);
        for (i = 1; i < n - 1; i++) {
            if (t[i] == '\\' && i + 1 < n - 1) {
                i++;
                switch (t[i]) {
                case 'n': out[j++] = '\n'; break;
                case 't': out[j++] = '\t'; break;
                default: out[j++] = t[i]; break;
                }
            }
            else {
                out[j++] = t[i];
            }
        }
        out[j] = '\0';
    }
    else {
        out = xstrdup(t);
    }
    free(s);
    return out;
}

static struct ynode *ynew(enum ytype t)
{
    struct ynode *n = xmalloc(sizeof(*n));
    n->type = t;
    return n;
}

static void yappend(struct ynode *m, const char *key, struct ynode *v)
{
    m->keys = xrealloc(m->keys, sizeof(char *) * (size_t) (m->n + 1));
    m->vals = xrealloc(m->vals, sizeof(struct ynode *) * (size_t) (m->n + 1));
    m->keys[m->n] = key ? xstrdup(key) : NULL;
    m->vals[m->n] = v;
    m->n++;
}

static struct ynode *yflow(struct yparser *p, char *text, int lineno)
{
    /* [a, b, c] of scalars */
    struct ynode *l = ynew(Y_LIST);
    size_t n = strlen(text);
    char *inner;
    char *tok;
    char *save = NULL;

    if (n < 2 || text[n - 1] != ']') {
        yerr(p, lineno, "unterminated flow sequence");
        return l;
    }
    inner = xstrndup(text + 1, n - 2);
    for (tok = strtok_r(inner, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        struct ynode *s = ynew(Y_SCALAR);
        s->scalar = yscalar(tok);
        if (*trim(tok)) {
            yappend(l, NULL, s);
        }
        else {
            free(s->scalar);
            free(s);
        }
    }
    free(inner);
    return l;
}

static struct ynode *yparse(struct yparser *p, int indent);

static struct ynode *yvalue(struct yparser *p, char *text, int lineno, int parent_indent)
{
    struct ynode *n;
    text = trim(text);
    if (*text == '\0') {
        /* nested block on the following lines */
        if (p->pos < p->n &&
            (p->l[p->pos].indent > parent_indent ||
             (p->l[p->pos].indent == parent_indent && p->l[p->pos].item))) {
            return yparse(p, p->l[p->pos].indent);
        }
        n = ynew(Y_SCALAR);
        n->scalar = xstrdup("");
        return n;
    }
    if (*text == '[') {
        return yflow(p, text, lineno);
    }
    if (*text == '{' || *text == '|' || *text == '>' || *text == '&' || *text == '*') {
        yerr(p, lineno, "flow maps, block scalars, anchors and aliases are not supported");
    }
    n = ynew(Y_SCALAR);
    n->scalar = yscalar(text);
    return n;
}

static struct ynode *yparse(struct yparser *p, int indent)
{
    struct ynode *node;
    struct yline *first = &p->l[p->pos];

    if (first->item) {
        node = ynew(Y_LIST);
        while (p->pos < p->n && !p->error) {
            struct yline *ln = &p->l[p->pos];
            if (ln->indent < indent || !ln->item) break;
            if (ln->indent > indent) {
                yerr(p, ln->lineno, "unexpected indentation");
                break;
            }
            p->pos++;
            if (ln->text[0] == '\0') {
                yappend(node, NULL, yvalue(p, ln->text, ln->lineno, indent));
            }
            else if (find_colon(ln->text)) {
                /* "- key: value" starts a map at the column of "key" */
                int col = ln->col;
                p->pos--;
                ln->item = 0;
                ln->indent = col;
                yappend(node, NULL, yparse(p, col));
            }
            else {
                yappend(node, NULL, yvalue(p, ln->text, ln->lineno, indent));
            }
        }
        return node;
    }

    node = ynew(Y_MAP);
    while (p->pos < p->n && !p->error) {
        struct yline *ln = &p->l[p->pos];
        char *colon;
        char *key;
        if (ln->indent < indent) break;
        if (ln->indent > indent) {
            yerr(p, ln->lineno, "unexpected indentation");
            break;
        }
        if (ln->item) break;
        colon = find_colon(ln->text);
        if (!colon) {
            yerr(p, ln->lineno, "expected 'key: value'");
            break;
        }
        *colon = '\0';
        key = yscalar(ln->text);
        p->pos++;
        yappend(node, key, yvalue(p, colon + 1, ln->lineno, indent));
        free(key);
    }
    return node;
}

static struct ynode *ymap_get(struct ynode *m, const char *key)
{
    int i;
    if (!m || m->type != Y_MAP) return NULL;
    for (i = 0; i < m->n; i++) {
        if (strcasecmp(m->keys[i], key) == 0) return m->vals[i];
    }
    return NULL;
}

static struct ynode *yload(const char *path)
{
    struct yparser p;
    char *buf;
    char *line;
    char *next;
    int lineno = 0;
    struct ynode *root;

    memset(&p, 0, sizeof(p));
    p.path = path;
    buf = read_file(path, NULL);
    if (!buf) {
        hlog(FLB_LOG_ERROR, "[config] cannot open %s", path);
        return NULL;
    }
    for (line = buf; line; line = next) {
        int ind = 0;
        char *t;
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        lineno++;
        t = line;
        while (*t == ' ') { t++; ind++; }
        if (*t == '\t') {
            hlog(FLB_LOG_ERROR, "[config] YAML error in %s:%d: tab in indentation", path, lineno);
            free(buf);
            return NULL;
        }
        strip_comment(t);
        {
            size_t n = strlen(t);
            while (n && isspace((unsigned char) t[n - 1])) t[--n] = '\0';
        }
        if (*t == '\0' || strcmp(t, "---") == 0) continue;
        p.l = xrealloc(p.l, sizeof(struct yline) * (size_t) (p.n + 1));
        if (t[0] == '-' && (t[1] == ' ' || t[1] == '\0')) {
            char *c = t + 1;
            while (*c == ' ') c++;
            p.l[p.n].indent = ind;
            p.l[p.n].item = 1;
            p.l[p.n].text = c;
            p.l[p.n].col = ind + (int) (c - t);
            p.l[p.n].lineno = lineno;
        }
        else {
            p.l[p.n].indent = ind;
            p.l[p.n].item = 0;
            p.l[p.n].text = t;
            p.l[p.n].col = ind;
            p.l[p.n].lineno = lineno;
        }
        p.n++;
    }
    if (p.n == 0) {
        root = ynew(Y_MAP);
    }
    else {
        root = yparse(&p, p.l[0].indent);
        if (!p.error && p.pos < p.n) {
            yerr(&p, p.l[p.pos].lineno, "unexpected content");
        }
    }
    if (p.error) {
        return NULL;
    }
    return root; /* buf stays allocated: it backs nothing after parsing but is small */
}

static int yaml_file(struct config *c, const char *path, int plugins_only);

static void yaml_plugins(struct config *c, struct ynode *pl)
{
    int i;
    if (!pl) return;
    if (pl->type == Y_LIST) {
        for (i = 0; i < pl->n; i++) {
            if (pl->vals[i]->type == Y_SCALAR) {
                char *t = env_translate(pl->vals[i]->scalar);
                config_add_plugin(c, t);
                free(t);
            }
        }
    }
    else if (pl->type == Y_SCALAR) {
        char *t = env_translate(pl->scalar);
        config_add_plugin(c, t);
        free(t);
    }
}

static int yaml_file(struct config *c, const char *path, int plugins_only)
{
    struct ynode *root;
    struct ynode *n;
    int i;
    int j;

    if (mark_read(path) != 0) {
        return -1;
    }
    root = yload(path);
    if (!root) {
        return -1;
    }
    if (root->type != Y_MAP) {
        hlog(FLB_LOG_ERROR, "[config] YAML error in %s: top level must be a map", path);
        return -1;
    }
    yaml_plugins(c, ymap_get(root, "plugins"));
    if (plugins_only) {
        return 0;
    }
    n = ymap_get(root, "env");
    if (n && n->type == Y_MAP) {
        for (i = 0; i < n->n; i++) {
            if (n->vals[i]->type == Y_SCALAR) {
                kv_set(&g_env, n->keys[i], n->vals[i]->scalar);
            }
        }
    }
    n = ymap_get(root, "includes");
    if (n && n->type == Y_LIST) {
        for (i = 0; i < n->n; i++) {
            char *p;
            int ret;
            if (n->vals[i]->type != Y_SCALAR) continue;
            p = resolve(c, n->vals[i]->scalar);
            ret = is_yaml(p) ? yaml_file(c, p, 0) : classic_file(c, p, 0);
            free(p);
            if (ret != 0) return -1;
        }
    }
    n = ymap_get(root, "service");
    if (n && n->type == Y_MAP) {
        for (i = 0; i < n->n; i++) {
            if (n->vals[i]->type == Y_SCALAR) {
                kv_add(&c->service, n->keys[i], n->vals[i]->scalar);
            }
        }
    }
    n = ymap_get(root, "pipeline");
    if (n) {
        struct ynode *ins = ymap_get(n, "inputs");
        struct ynode *outs = ymap_get(n, "outputs");
        if (ins && ins->type == Y_LIST) {
            for (i = 0; i < ins->n; i++) {
                c->ninputs++;
                if (c->ninputs == 1) {
                    struct ynode *v = ymap_get(ins->vals[i], "name");
                    if (v && v->type == Y_SCALAR) c->input_name = xstrdup(v->scalar);
                    v = ymap_get(ins->vals[i], "tag");
                    if (v && v->type == Y_SCALAR) c->input_tag = xstrdup(v->scalar);
                }
            }
        }
        if (outs && outs->type == Y_LIST) {
            for (i = 0; i < outs->n; i++) {
                struct ynode *m = outs->vals[i];
                struct outdef *o;
                char origin[PATH_MAX + 32];
                if (m->type != Y_MAP) {
                    hlog(FLB_LOG_ERROR, "[config] YAML error in %s: outputs must be maps", path);
                    return -1;
                }
                snprintf(origin, sizeof(origin), "%s:outputs[%d]", path, i);
                o = config_add_output(c, NULL, origin);
                for (j = 0; j < m->n; j++) {
                    struct ynode *v = m->vals[j];
                    if (strcasecmp(m->keys[j], "name") == 0 && v->type == Y_SCALAR) {
                        o->name = xstrdup(v->scalar);
                    }
                    else if (v->type == Y_SCALAR) {
                        kv_add(&o->props, m->keys[j], v->scalar);
                    }
                    else if (v->type == Y_LIST) {
                        int k;
                        for (k = 0; k < v->n; k++) {
                            if (v->vals[k]->type == Y_SCALAR) {
                                kv_add(&o->props, m->keys[j], v->vals[k]->scalar);
                            }
                        }
                    }
                    else {
                        hlog(FLB_LOG_WARN, "[flbhost] %s: output key '%s' has a nested map; ignored",
                             path, m->keys[j]);
                    }
                }
            }
        }
    }
    return 0;
}

static void set_conf_dir(struct config *c, const char *path)
{
    char real[PATH_MAX];
    char *slash;
    if (!realpath(path, real)) {
        return;
    }
    slash = strrchr(real, '/');
    if (slash) {
        slash[1] = '\0';
    }
    free(c->conf_dir);
    c->conf_dir = xstrdup(real);
}

/* one main config file and what it includes, read afresh (also by a hot
 * reload): its own list of files read */
int config_load(struct config *c, const char *path)
{
    struct stat st;
    while (nfiles_read > 0) {
        free(files_read[--nfiles_read]);
    }
    if (stat(path, &st) != 0) {
        hlog(FLB_LOG_ERROR, "[config] cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    set_conf_dir(c, path);
    if (is_yaml(path)) {
        return yaml_file(c, path, 0);
    }
    return classic_file(c, path, 0);
}

/* [SERVICE] plugins_file: relative to the current directory, else to the
 * main config's directory (flb_plugin_load_config_file) */
int config_load_plugins_file(struct config *c, const char *file)
{
    char *p = resolve(c, file);
    int ret;
    struct stat st;
    if (stat(p, &st) != 0) {
        hlog(FLB_LOG_ERROR, "[plugin] cannot open plugins file %s", p);
        free(p);
        return -1;
    }
    ret = is_yaml(p) ? yaml_file(c, p, 1) : classic_file(c, p, 1);
    free(p);
    return ret;
}
