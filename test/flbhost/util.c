/* flbhost: small helpers (memory, strings, logging, env translation) */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

int g_log_level = FLB_LOG_INFO;
int g_log_ms = 1; /* Fluent Bit 5.0 on; older ones print whole seconds */
struct kvlist g_env;

void *xmalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        fprintf(stderr, "flbhost: out of memory\n");
        abort();
    }
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "flbhost: out of memory\n");
        abort();
    }
    return p;
}

char *xstrdup(const char *s)
{
    return s ? xstrndup(s, strlen(s)) : NULL;
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *trim(char *s)
{
    char *e;
    while (*s && isspace((unsigned char) *s)) {
        s++;
    }
    e = s + strlen(s);
    while (e > s && isspace((unsigned char) e[-1])) {
        *--e = '\0';
    }
    return s;
}

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kv_add(struct kvlist *l, const char *k, const char *v)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = xrealloc(l->v, sizeof(struct kv) * (size_t) l->cap);
    }
    l->v[l->n].key = xstrdup(k);
    l->v[l->n].val = xstrdup(v);
    l->n++;
}

const char *kv_get(struct kvlist *l, const char *k)
{
    int i;
    for (i = 0; i < l->n; i++) {
        if (strcasecmp(l->v[i].key, k) == 0) {
            return l->v[i].val;
        }
    }
    return NULL;
}

void kv_set(struct kvlist *l, const char *k, const char *v)
{
    int i;
    for (i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].key, k) == 0) {
            free(l->v[i].val);
            l->v[i].val = xstrdup(v);
            return;
        }
    }
    kv_add(l, k, v);
}

void kv_free(struct kvlist *l)
{
    int i;
    for (i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].val);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* ---- logging in Fluent Bit v5.1.1's format ---- */

static const char *level_str(int level)
{
    switch (level) {
    case FLB_LOG_ERROR: return "error";
    case FLB_LOG_WARN:  return "warn";
    case FLB_LOG_INFO:  return "info";
    case FLB_LOG_DEBUG: return "debug";
    case FLB_LOG_TRACE: return "trace";
    case 6:             return "help";
    default:            return NULL;
    }
}

void log_vemit_fd(int fd, int level, const char *fmt, va_list ap)
{
    char buf[4096];
    struct timeval tv;
    struct tm tm;
    const char *ls;
    int len;
    int n;

    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    ls = level_str(level);
    len = snprintf(buf, sizeof(buf) - 2, "[%04d/%02d/%02d %02d:%02d:%02d",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                   tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (g_log_ms) {
        len += snprintf(buf + len, sizeof(buf) - 2 - (size_t) len, ".%03ld",
                        (long) (tv.tv_usec / 1000));
    }
    len += snprintf(buf + len, sizeof(buf) - 2 - (size_t) len, "] [%5s] ",
                    ls ? ls : "(null)");
    n = vsnprintf(buf + len, sizeof(buf) - 2 - (size_t) len, fmt, ap);
    if (n < 0) {
        return;
    }
    len += n;
    if (len > (int) sizeof(buf) - 2) {
        len = (int) sizeof(buf) - 2;
    }
    buf[len++] = '\n';
    /* one write(2) per line, as Fluent Bit's logger does */
    n = (int) write(fd, buf, (size_t) len);
    (void) n;
}

/* the host's lines: as flb_log_print of the calling thread once the
 * engine runs (hostlog.c), to stderr before */
void (*g_log_sink)(int level, const char *fmt, va_list ap);

void log_vemit(int level, const char *fmt, va_list ap)
{
    if (g_log_sink) {
        g_log_sink(level, fmt, ap);
        return;
    }
    log_vemit_fd(STDERR_FILENO, level, fmt, ap);
}

/* host's own messages: filtered by the global (service) log level */
void hlog(int level, const char *fmt, ...)
{
    va_list ap;
    if (level > g_log_level) {
        return;
    }
    va_start(ap, fmt);
    log_vemit(level, fmt, ap);
    va_end(ap);
}

void die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vemit(FLB_LOG_ERROR, fmt, ap);
    va_end(ap);
    exit(code);
}

int parse_log_level(const char *s)
{
    if (!s) {
        return -1;
    }
    if (strcasecmp(s, "off") == 0) return FLB_LOG_OFF;
    if (strcasecmp(s, "error") == 0) return FLB_LOG_ERROR;
    if (strcasecmp(s, "warn") == 0 || strcasecmp(s, "warning") == 0) return FLB_LOG_WARN;
    if (strcasecmp(s, "info") == 0) return FLB_LOG_INFO;
    if (strcasecmp(s, "debug") == 0) return FLB_LOG_DEBUG;
    if (strcasecmp(s, "trace") == 0) return FLB_LOG_TRACE;
    return -1;
}

/* flb_utils_bool */
int parse_bool(const char *s)
{
    if (!s) return 0;
    if (strcasecmp(s, "true") == 0 || strcasecmp(s, "on") == 0 ||
        strcasecmp(s, "yes") == 0 || strcmp(s, "1") == 0) {
        return 1;
    }
    return 0;
}

/* ---- ${VAR} translation (flb_env_var_translate) ----
 * Variables set by @SET / YAML env: win over the process environment; an
 * environment variable set to "" counts as unset; an unset variable
 * expands to nothing and is reported once per use. */
const char *env_get(const char *name)
{
    int i;
    const char *v;
    for (i = 0; i < g_env.n; i++) {
        if (strcmp(g_env.v[i].key, name) == 0) {
            return g_env.v[i].val;
        }
    }
    v = getenv(name);
    if (v && *v == '\0') {
        return NULL;
    }
    if (!v && strcmp(name, "HOSTNAME") == 0) {
        static char hn[256];
        if (gethostname(hn, sizeof(hn) - 1) == 0) {
            return hn;
        }
    }
    return v;
}

char *env_translate(const char *value)
{
    size_t cap;
    size_t len = 0;
    char *out;
    const char *p = value;
    const char *s;
    const char *e;

    if (!value) {
        return NULL;
    }
    cap = strlen(value) + 64;
    out = xmalloc(cap);
    while (*p) {
        s = strstr(p, "${");
        if (!s || !(e = strchr(s + 2, '}')) || e == s + 2) {
            break;
        }
        {
            char name[256];
            const char *v;
            size_t nl = (size_t) (e - (s + 2));
            size_t need;
            if (nl >= sizeof(name)) {
                nl = sizeof(name) - 1;
            }
            memcpy(name, s + 2, nl);
            name[nl] = '\0';
            v = env_get(name);
            if (!v) {
                hlog(FLB_LOG_WARN, "[env] variable ${%s} is used but not set", name);
                v = "";
            }
            need = len + (size_t) (s - p) + strlen(v) + strlen(e) + 1;
            if (need > cap) {
                cap = need * 2;
                out = xrealloc(out, cap);
            }
            memcpy(out + len, p, (size_t) (s - p));
            len += (size_t) (s - p);
            memcpy(out + len, v, strlen(v));
            len += strlen(v);
        }
        p = e + 1;
    }
    if (len + strlen(p) + 1 > cap) {
        cap = len + strlen(p) + 1;
        out = xrealloc(out, cap);
    }
    memcpy(out + len, p, strlen(p));
    len += strlen(p);
    out[len] = '\0';
    return out;
}

/* JSON string escaping into a static-free buffer the caller frees */
char *json_str(const char *s)
{
    size_t cap;
    size_t n = 0;
    char *o;
    const unsigned char *p;

    if (!s) {
        s = "";
    }
    cap = strlen(s) * 6 + 3;
    o = xmalloc(cap);
    o[n++] = '"';
    for (p = (const unsigned char *) s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            o[n++] = '\\';
            o[n++] = (char) *p;
        }
        else if (*p < 0x20) {
            n += (size_t) sprintf(o + n, "\\u%04x", *p);
        }
        else {
            o[n++] = (char) *p;
        }
    }
    o[n++] = '"';
    o[n] = '\0';
    return o;
}
