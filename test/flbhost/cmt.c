/*
 * The cmetrics calls a Fluent Bit 2.0+ executable exports (its
 * lib/cmetrics, linked in and exported with the rest), with the
 * signatures of lib/cmetrics/include/cmetrics/cmt_{counter,gauge,histogram}.h
 * (the same from v2.0.14 to v5.1.1). Built into libflbcmt.so, loaded by the
 * host only for a profile with metrics. Instead of a Prometheus endpoint it
 * records every series and prints them when the host destroys the
 * instance ("flbhost: metrics"). Stricter than cmetrics: a metric or
 * context it did not hand out, a label count that differs from the
 * metric's, a NULL label value or any call after the instance's context
 * was destroyed aborts the host.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

#define CMT_MAGIC     0x434d5448u /* "CMTH" */
#define METRIC_MAGIC  0x4d455452u /* "METR" */
#define DEAD_MAGIC    0xdeadc0deu
#define MAX_LABELS    8
#define MAX_BUCKETS   64

enum mtype { COUNTER, GAUGE, HISTOGRAM };

struct series {
    char *vals[MAX_LABELS];
    double value;                    /* counter, gauge */
    uint64_t counts[MAX_BUCKETS + 1]; /* histogram: per bucket, +Inf last */
    uint64_t count;
    double sum;
};

struct cmt;

struct metric {
    uint32_t magic;
    enum mtype type;
    struct cmt *cmt;
    char *name;                      /* ns_subsystem_name */
    int nkeys;
    char *keys[MAX_LABELS];
    double bounds[MAX_BUCKETS];
    size_t nbounds;
    struct series *series;
    int nseries;
};

struct cmt {
    uint32_t magic;
    struct metric **metrics;
    int nmetrics;
};

struct cmt_histogram_buckets {
    size_t count;
    double bounds[MAX_BUCKETS];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void fatal(const char *fn, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fatal(const char *fn, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "flbhost: FATAL: %s(): ", fn);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

static struct cmt *check_cmt(struct cmt *c, const char *fn)
{
    if (!c || c->magic != CMT_MAGIC) {
        fatal(fn, "%p is not a live cmetrics context (destroyed with its output instance?)",
              (void *) c);
    }
    return c;
}

static struct metric *check_metric(void *p, enum mtype type, const char *fn)
{
    struct metric *m = p;
    if (!m || m->magic != METRIC_MAGIC) {
        fatal(fn, "%p is not a live metric (its instance's context was destroyed?)", p);
    }
    if (m->type != type) {
        fatal(fn, "%s is not of the type this function takes", m->name);
    }
    check_cmt(m->cmt, fn);
    return m;
}

static struct metric *metric_new(struct cmt *c, enum mtype type, const char *ns,
                                 const char *sub, const char *name, const char *help,
                                 int nkeys, char **keys, const char *fn)
{
    struct metric *m;
    size_t len;
    int i;

    check_cmt(c, fn);
    if (!ns || !name || !help || nkeys < 0 || nkeys > MAX_LABELS || (nkeys > 0 && !keys)) {
        fatal(fn, "invalid arguments");
    }
    m = xmalloc(sizeof(*m));
    m->magic = METRIC_MAGIC;
    m->type = type;
    m->cmt = c;
    len = strlen(ns) + (sub ? strlen(sub) : 0) + strlen(name) + 3;
    m->name = xmalloc(len);
    if (sub && *sub) {
        snprintf(m->name, len, "%s_%s_%s", ns, sub, name);
    }
    else {
        snprintf(m->name, len, "%s_%s", ns, name);
    }
    m->nkeys = nkeys;
    for (i = 0; i < nkeys; i++) {
        if (!keys[i]) {
            fatal(fn, "%s: label key %d is NULL", m->name, i);
        }
        m->keys[i] = xstrdup(keys[i]);
    }
    c->metrics = xrealloc(c->metrics, sizeof(struct metric *) * (size_t) (c->nmetrics + 1));
    c->metrics[c->nmetrics++] = m;
    return m;
}

static struct series *series_get(struct metric *m, int n, char **vals, const char *fn)
{
    struct series *s;
    int i;
    int j;

    if (n != m->nkeys) {
        fatal(fn, "%s has %d labels, called with %d", m->name, m->nkeys, n);
    }
    for (i = 0; i < n; i++) {
        if (!vals || !vals[i]) {
            fatal(fn, "%s: label value %d is NULL", m->name, i);
        }
    }
    for (i = 0; i < m->nseries; i++) {
        s = &m->series[i];
        for (j = 0; j < n && strcmp(s->vals[j], vals[j]) == 0; j++) {
        }
        if (j == n) {
            return s;
        }
    }
    m->series = xrealloc(m->series, sizeof(struct series) * (size_t) (m->nseries + 1));
    s = &m->series[m->nseries++];
    memset(s, 0, sizeof(*s));
    for (i = 0; i < n; i++) {
        s->vals[i] = xstrdup(vals[i]);
    }
    return s;
}

static struct metric *metric_create(struct cmt *cmt, enum mtype type, char *ns,
                                    char *subsystem, char *name, char *help, int label_count,
                                    char **label_keys, const char *fn)
{
    struct metric *m;
    pthread_mutex_lock(&mu);
    m = metric_new(cmt, type, ns, subsystem, name, help, label_count, label_keys, fn);
    pthread_mutex_unlock(&mu);
    return m;
}

FLB_EXPORT struct metric *cmt_counter_create(struct cmt *cmt, char *ns, char *subsystem,
                                             char *name, char *help, int label_count,
                                             char **label_keys)
{
    return metric_create(cmt, COUNTER, ns, subsystem, name, help, label_count, label_keys,
                         "cmt_counter_create");
}

static int counter_update(void *counter, double val, int set, int n, char **vals, const char *fn)
{
    struct metric *m;
    struct series *s;
    pthread_mutex_lock(&mu);
    m = check_metric(counter, COUNTER, fn);
    s = series_get(m, n, vals, fn);
    if (set) {
        if (val < s->value) {
            pthread_mutex_unlock(&mu);
            return -1; /* a counter never goes down (cmt_counter_set) */
        }
        s->value = val;
    }
    else {
        if (val < 0) {
            pthread_mutex_unlock(&mu);
            return -1;
        }
        s->value += val;
    }
    pthread_mutex_unlock(&mu);
    return 0;
}

FLB_EXPORT int cmt_counter_inc(void *counter, uint64_t ts, int n, char **vals)
{
    (void) ts;
    return counter_update(counter, 1, 0, n, vals, "cmt_counter_inc");
}

FLB_EXPORT int cmt_counter_add(void *counter, uint64_t ts, double val, int n, char **vals)
{
    (void) ts;
    return counter_update(counter, val, 0, n, vals, "cmt_counter_add");
}

FLB_EXPORT int cmt_counter_set(void *counter, uint64_t ts, double val, int n, char **vals)
{
    (void) ts;
    return counter_update(counter, val, 1, n, vals, "cmt_counter_set");
}

FLB_EXPORT struct metric *cmt_gauge_create(struct cmt *cmt, char *ns, char *subsystem,
                                           char *name, char *help, int label_count,
                                           char **label_keys)
{
    return metric_create(cmt, GAUGE, ns, subsystem, name, help, label_count, label_keys,
                         "cmt_gauge_create");
}

static int gauge_update(void *gauge, double val, int set, int n, char **vals, const char *fn)
{
    struct series *s;
    pthread_mutex_lock(&mu);
    s = series_get(check_metric(gauge, GAUGE, fn), n, vals, fn);
    s->value = set ? val : s->value + val;
    pthread_mutex_unlock(&mu);
    return 0;
}

FLB_EXPORT int cmt_gauge_set(void *gauge, uint64_t ts, double val, int n, char **vals)
{
    (void) ts;
    return gauge_update(gauge, val, 1, n, vals, "cmt_gauge_set");
}

FLB_EXPORT int cmt_gauge_add(void *gauge, uint64_t ts, double val, int n, char **vals)
{
    (void) ts;
    return gauge_update(gauge, val, 0, n, vals, "cmt_gauge_add");
}

FLB_EXPORT int cmt_gauge_inc(void *gauge, uint64_t ts, int n, char **vals)
{
    (void) ts;
    return gauge_update(gauge, 1, 0, n, vals, "cmt_gauge_inc");
}

FLB_EXPORT int cmt_gauge_dec(void *gauge, uint64_t ts, int n, char **vals)
{
    (void) ts;
    return gauge_update(gauge, -1, 0, n, vals, "cmt_gauge_dec");
}

FLB_EXPORT struct cmt_histogram_buckets *cmt_histogram_buckets_create_size(double *bkts,
                                                                          size_t count)
{
    struct cmt_histogram_buckets *b;
    size_t i;
    if (!bkts || count == 0 || count > MAX_BUCKETS) {
        return NULL;
    }
    for (i = 1; i < count; i++) {
        if (bkts[i] <= bkts[i - 1]) {
            return NULL; /* cmetrics wants increasing bounds */
        }
    }
    b = xmalloc(sizeof(*b));
    b->count = count;
    memcpy(b->bounds, bkts, sizeof(double) * count);
    return b;
}

FLB_EXPORT struct metric *cmt_histogram_create(struct cmt *cmt, char *ns, char *subsystem,
                                               char *name, char *help,
                                               struct cmt_histogram_buckets *buckets,
                                               int label_count, char **label_keys)
{
    struct metric *m;
    if (!buckets) {
        return NULL;
    }
    m = metric_create(cmt, HISTOGRAM, ns, subsystem, name, help, label_count, label_keys,
                      "cmt_histogram_create");
    pthread_mutex_lock(&mu);
    m->nbounds = buckets->count;
    memcpy(m->bounds, buckets->bounds, sizeof(double) * buckets->count);
    pthread_mutex_unlock(&mu);
    free(buckets); /* the histogram owns its buckets */
    return m;
}

FLB_EXPORT int cmt_histogram_observe(void *histogram, uint64_t ts, double val, int n,
                                     char **vals)
{
    struct metric *m;
    struct series *s;
    size_t i;
    (void) ts;
    pthread_mutex_lock(&mu);
    m = check_metric(histogram, HISTOGRAM, "cmt_histogram_observe");
    s = series_get(m, n, vals, "cmt_histogram_observe");
    for (i = 0; i < m->nbounds && val > m->bounds[i]; i++) {
    }
    s->counts[i]++;
    s->count++;
    s->sum += val;
    pthread_mutex_unlock(&mu);
    return 0;
}

/* flb_output_get_cmt_instance (src/flb_output.c, FLB_HAVE_METRICS) */
FLB_EXPORT void *flb_output_get_cmt_instance(struct flb_output_instance *ins)
{
    if (!ins || ins->magic != FLBHOST_INS_MAGIC) {
        fatal("flb_output_get_cmt_instance", "%p is not an output instance", (void *) ins);
    }
    return ins->cmt;
}

static const char *version = "0.0.0";

FLB_EXPORT const char *cmt_version(void)
{
    return version;
}

/* --- for the host --- */

FLB_EXPORT void flbhost_cmt_set_version(const char *v)
{
    version = v;
}

FLB_EXPORT struct cmt *flbhost_cmt_create(void)
{
    struct cmt *c = xmalloc(sizeof(*c));
    c->magic = CMT_MAGIC;
    return c;
}

static void print_json_str(FILE *f, const char *s)
{
    char *j = json_str(s);
    fputs(j, f);
    free(j);
}

/* "flbhost: metrics {...}": every series of the context, one line */
FLB_EXPORT void flbhost_cmt_print(struct cmt *c, const char *instance, int generation)
{
    FILE *f = stdout;
    int i;
    int j;
    int k;
    int first = 1;
    size_t b;

    pthread_mutex_lock(&mu);
    check_cmt(c, "flbhost_cmt_print");
    fputs("flbhost: metrics {\"instance\":", f);
    print_json_str(f, instance);
    fprintf(f, ",\"generation\":%d,\"series\":[", generation);
    for (i = 0; i < c->nmetrics; i++) {
        struct metric *m = c->metrics[i];
        for (j = 0; j < m->nseries; j++) {
            struct series *s = &m->series[j];
            if (!first) {
                fputc(',', f);
            }
            first = 0;
            fputs("{\"name\":", f);
            print_json_str(f, m->name);
            fprintf(f, ",\"type\":\"%s\",\"labels\":{",
                    m->type == COUNTER ? "counter" : m->type == GAUGE ? "gauge" : "histogram");
            for (k = 0; k < m->nkeys; k++) {
                if (k) {
                    fputc(',', f);
                }
                print_json_str(f, m->keys[k]);
                fputc(':', f);
                print_json_str(f, s->vals[k]);
            }
            fputc('}', f);
            if (m->type == HISTOGRAM) {
                fprintf(f, ",\"count\":%llu,\"sum\":%.9g,\"buckets\":[",
                        (unsigned long long) s->count, s->sum);
                for (b = 0; b <= m->nbounds; b++) {
                    fprintf(f, "%s%llu", b ? "," : "", (unsigned long long) s->counts[b]);
                }
                fputc(']', f);
            }
            else {
                fprintf(f, ",\"value\":%.17g", s->value);
            }
            fputc('}', f);
        }
    }
    fputs("]}\n", f);
    fflush(f);
    pthread_mutex_unlock(&mu);
}

/* Fluent Bit frees the context with the instance; here every later use
 * aborts (the memory is kept, poisoned, so that the check is reliable). */
FLB_EXPORT void flbhost_cmt_destroy(struct cmt *c)
{
    int i;
    pthread_mutex_lock(&mu);
    check_cmt(c, "flbhost_cmt_destroy");
    for (i = 0; i < c->nmetrics; i++) {
        c->metrics[i]->magic = DEAD_MAGIC;
    }
    c->magic = DEAD_MAGIC;
    pthread_mutex_unlock(&mu);
}
