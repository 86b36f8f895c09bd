/*
 * probe.so: a C stand-in for a Go output plugin, used to check that flbhost
 * behaves like Fluent Bit. It exports what a fluent-bit-go plugin exports,
 * reports every call as one stdout line "probe: {json}", and does what its
 * properties (probe.*) and environment (PROBE_*) ask.
 *
 * Environment (read in FLBPluginRegister, before any instance exists):
 *   PROBE_NAME (probe)  PROBE_FLAGS (0)  PROBE_TYPE (2)  PROBE_PROXY (11)
 *   PROBE_EVENT_TYPE (0)  PROBE_BUILTIN_CHECK (comma list of names)
 *   PROBE_PREREGISTER_RET (0)
 * Properties (read in FLBPluginInit through api->output_get_property):
 *   probe.label  probe.keys (comma list to dump)  probe.init_ret
 *   probe.log on  probe.netdefault on  probe.retry_first N  probe.error_first N
 *   probe.invalid_first N  probe.ret R  probe.sleep_ms MS  probe.write_chunk on
 *   probe.read_past on  probe.worker_log on
 * Built with -DPROBE_NO_CTX it lacks FLBPluginFlushCtx, FLBPluginExitCtx,
 * FLBPluginPreRegister and FLBPluginOutputPreExit (old-style plugin).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../flbhost.h"

#define EXPORT __attribute__((visibility("default")))

struct state {
    uint32_t magic;
    char label[128];
    int seq;
    void *o_ins;
    int retry_first, error_first, invalid_first, ret, sleep_ms;
    int write_chunk, read_past, worker_log;
    void *api;
    atomic_int n;
    atomic_int inflight;
};

static int init_seq;
static struct state *last_state;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static long tid(void)
{
    return (long) syscall(SYS_gettid);
}

static void jesc(char *o, size_t cap, const char *s)
{
    size_t n = 0;
    if (!s) {
        snprintf(o, cap, "null");
        return;
    }
    o[n++] = '"';
    for (; *s && n + 8 < cap; s++) {
        unsigned char ch = (unsigned char) *s;
        if (ch == '"' || ch == '\\') {
            o[n++] = '\\';
            o[n++] = (char) ch;
        }
        else if (ch < 0x20) {
            n += (size_t) snprintf(o + n, cap - n, "\\u%04x", ch);
        }
        else {
            o[n++] = (char) ch;
        }
    }
    o[n++] = '"';
    o[n] = '\0';
}

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if (n > (int) sizeof(buf) - 2) {
        n = (int) sizeof(buf) - 2;
    }
    pthread_mutex_lock(&out_mu);
    fputs("probe: ", stdout);
    fwrite(buf, 1, (size_t) n, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
}

/* probe.worker_log: which threads have a Fluent Bit worker, and where the
 * api's log_print sends a line from each */
static void worker_log(struct state *st, const char *where)
{
    void *(*get)(void) = (void *(*)(void)) dlsym(RTLD_DEFAULT, "flb_worker_get");
    void (*log_print)(int, const char *, int, const char *, ...) =
        ((struct flb_api *) st->api)->log_print;
    emit("{\"ev\":\"worker\",\"where\":\"%s\",\"set\":%s}", where,
         get && get() ? "true" : "false");
    log_print(3, __FILE__, __LINE__, "[output:probe:%s] log line from %s", st->label, where);
}

static void *own_thread(void *arg)
{
    worker_log(arg, "own_thread");
    return NULL;
}

static int envint(const char *k, int def)
{
    const char *v = getenv(k);
    return v && *v ? atoi(v) : def;
}

#ifndef PROBE_NO_CTX
EXPORT int FLBPluginPreRegister(int hot_reloading)
{
    emit("{\"ev\":\"preregister\",\"hot\":%d}", hot_reloading);
    return envint("PROBE_PREREGISTER_RET", 0);
}
#endif

EXPORT int FLBPluginRegister(struct flb_plugin_proxy_def *def)
{
    const char *names[] = {"flb_output_net_default", "flb_sds_create", "flb_sds_destroy",
                           "flb_output_name", "flb_log_print", "flb_worker_get",
                           "flb_output_log_check", "flb_output_get_cmt_instance",
                           "cmt_counter_create", "cmt_histogram_create", NULL};
    char esc[512];
    char line[2048];
    size_t n = 0;
    int zeroed;
    int i;
    const char *name = getenv("PROBE_NAME");
    const char *bc = getenv("PROBE_BUILTIN_CHECK");
    void *(*worker_get)(void);

    /* 5.x: flb_calloc'ed 7 fields, only type set (flb_plugin_proxy_create);
     * PROBE_DEF5 reads only the 5 fields of the releases before 5.0 */
    zeroed = def->proxy == 0 && def->flags == 0 && def->name == NULL &&
             def->description == NULL &&
             (getenv("PROBE_DEF5") || (def->event_type == 0 && def->config_map == NULL));
    worker_get = (void *(*)(void)) dlsym(RTLD_DEFAULT, "flb_worker_get");
    emit("{\"ev\":\"register\",\"zeroed\":%s,\"type\":%d,\"tid\":%ld,\"worker\":%s}",
         zeroed ? "true" : "false", def->type, tid(),
         worker_get && worker_get() ? "true" : "false");

    n += (size_t) snprintf(line + n, sizeof(line) - n, "{\"ev\":\"symbols\"");
    for (i = 0; names[i]; i++) {
        n += (size_t) snprintf(line + n, sizeof(line) - n, ",\"%s\":%s", names[i],
                               dlsym(RTLD_DEFAULT, names[i]) ? "true" : "false");
    }
    snprintf(line + n, sizeof(line) - n, "}");
    emit("%s", line);

    if (bc && *bc) {
        char *copy = strdup(bc);
        char *save = NULL;
        char *tok;
        for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char sym[256];
            snprintf(sym, sizeof(sym), "out_%s_plugin", tok);
            jesc(esc, sizeof(esc), tok);
            emit("{\"ev\":\"builtin\",\"name\":%s,\"found\":%s}", esc,
                 dlsym(RTLD_DEFAULT, sym) ? "true" : "false");
        }
        free(copy);
    }

    def->type = envint("PROBE_TYPE", 2);
    def->proxy = envint("PROBE_PROXY", 11);
    def->flags = envint("PROBE_FLAGS", 0);
    def->name = strdup(name && *name ? name : "probe");
    def->description = strdup("flbhost probe plugin");
    if (!getenv("PROBE_DEF5")) {
        def->event_type = envint("PROBE_EVENT_TYPE", 0);
    }
    return 0;
}

static const char *prop(struct flbgo_output_plugin *p, const char *k)
{
    return p->api->output_get_property(k, p->o_ins);
}

static int propint(struct flbgo_output_plugin *p, const char *k, int def)
{
    const char *v = prop(p, k);
    return v && *v ? atoi(v) : def;
}

static int propbool(struct flbgo_output_plugin *p, const char *k)
{
    const char *v = prop(p, k);
    return v && (strcasecmp(v, "on") == 0 || strcasecmp(v, "true") == 0 ||
                 strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0);
}

static void net_default_probe(struct state *st, struct flbgo_output_plugin *p)
{
    void (*nd)(const char *, int, void *);
    void (*sds_destroy)(char *);
    const char *(*oname)(void *);
    unsigned char *scratch;
    size_t size = 65536;
    size_t i;
    long port_off = -1;
    long writes = 0;
    char lab[300];
    char host[600];
    char uri[600];
    char on[300];
    const char *target = "probe-scratch-host";
    const int port = 42424;

    jesc(lab, sizeof(lab), st->label);
    nd = (void (*)(const char *, int, void *)) dlsym(RTLD_DEFAULT, "flb_output_net_default");
    sds_destroy = (void (*)(char *)) dlsym(RTLD_DEFAULT, "flb_sds_destroy");
    oname = (const char *(*)(void *)) dlsym(RTLD_DEFAULT, "flb_output_name");
    if (!nd || !sds_destroy) {
        emit("{\"ev\":\"netdefault\",\"label\":%s,\"found\":false}", lab);
        return;
    }
    if (oname) {
        jesc(on, sizeof(on), oname(p->o_ins));
        emit("{\"ev\":\"name\",\"label\":%s,\"flb_output_name\":%s}", lab, on);
    }
    scratch = calloc(1, size);
    nd(target, port, scratch);
    for (i = 0; i < size; i++) {
        if (scratch[i]) {
            writes++;
        }
    }
    for (i = 0; i + 16 <= size; i += 4) {
        int v;
        char *ptr;
        memcpy(&v, scratch + i, sizeof(v));
        if (v != port) {
            continue;
        }
        memcpy(&ptr, scratch + i + 8, sizeof(ptr));
        if (ptr && strcmp(ptr, target) == 0) {
            port_off = (long) i;
            break;
        }
    }
    if (port_off < 0) {
        emit("{\"ev\":\"netdefault\",\"label\":%s,\"found\":true,\"port_off\":-1}", lab);
        free(scratch);
        return;
    }
    {
        char *sname;
        uint64_t sds_len;
        uint64_t sds_alloc;
        int rport;
        char *rname;
        struct { char *full; } *ruri;
        memcpy(&sname, scratch + port_off + 8, sizeof(sname));
        memcpy(&sds_len, sname - 16, sizeof(sds_len));
        memcpy(&sds_alloc, sname - 8, sizeof(sds_alloc));
        /* the real instance, at the offsets derived at run time */
        memcpy(&rport, (char *) p->o_ins + port_off, sizeof(rport));
        memcpy(&rname, (char *) p->o_ins + port_off + 8, sizeof(rname));
        memcpy(&ruri, (char *) p->o_ins + port_off + 24, sizeof(ruri));
        jesc(host, sizeof(host), rname);
        jesc(uri, sizeof(uri), ruri ? ruri->full : NULL);
        emit("{\"ev\":\"netdefault\",\"label\":%s,\"found\":true,\"port_off\":%ld,"
             "\"nonzero_bytes\":%ld,\"sds_len\":%llu,\"sds_alloc\":%llu,"
             "\"host\":%s,\"port\":%d,\"uri\":%s}",
             lab, port_off, writes, (unsigned long long) sds_len,
             (unsigned long long) sds_alloc, host, rport, uri);
        sds_destroy(sname);
    }
    free(scratch);
}

EXPORT int FLBPluginInit(struct flbgo_output_plugin *p)
{
    struct state *st = calloc(1, sizeof(*st));
    const char *label;
    const char *keys;
    char lab[300];
    char nm[300];
    int seq = init_seq++;

    st->magic = 0x50524f42;
    st->seq = seq;
    st->o_ins = p->o_ins;
    label = prop(p, "probe.label");
    if (label) {
        snprintf(st->label, sizeof(st->label), "%s", label);
    }
    else {
        snprintf(st->label, sizeof(st->label), "i%d", seq);
    }
    jesc(lab, sizeof(lab), st->label);
    jesc(nm, sizeof(nm), p->name);
    emit("{\"ev\":\"init\",\"label\":%s,\"seq\":%d,\"plugin\":\"%p\",\"api\":\"%p\","
         "\"o_ins\":\"%p\",\"context\":\"%p\",\"remote_context_before\":\"%p\","
         "\"name\":%s,\"tid\":%ld}",
         lab, seq, (void *) p, (void *) p->api, (void *) p->o_ins, (void *) p->context,
         p->context ? p->context->remote_context : NULL, nm, tid());

    keys = prop(p, "probe.keys");
    if (keys) {
        char *copy = strdup(keys);
        char *save = NULL;
        char *tok;
        for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            const char *v = prop(p, tok);
            char k[300];
            char ve[2048];
            jesc(k, sizeof(k), tok);
            jesc(ve, sizeof(ve), v ? v : "");
            emit("{\"ev\":\"prop\",\"label\":%s,\"key\":%s,\"null\":%s,\"value\":%s}",
                 lab, k, v ? "false" : "true", ve);
        }
        free(copy);
    }
    if (propbool(p, "probe.log")) {
        int l;
        for (l = 1; l <= 5; l++) {
            int ok = p->api->output_log_check(p->o_ins, l);
            emit("{\"ev\":\"logcheck\",\"label\":%s,\"level\":%d,\"ok\":%s}", lab, l,
                 ok ? "true" : "false");
            if (ok) {
                p->api->log_print(l, __FILE__, __LINE__, "[output:probe:%s] probe log level %d",
                                  st->label, l);
            }
        }
        p->api->log_print(4, __FILE__, __LINE__, "[output:probe:%s] unguarded debug line",
                          st->label);
    }
    if (propbool(p, "probe.netdefault")) {
        net_default_probe(st, p);
    }
    st->retry_first = propint(p, "probe.retry_first", 0);
    st->error_first = propint(p, "probe.error_first", 0);
    st->invalid_first = propint(p, "probe.invalid_first", 0);
    st->ret = propint(p, "probe.ret", 1);
    st->sleep_ms = propint(p, "probe.sleep_ms", 0);
    st->write_chunk = propbool(p, "probe.write_chunk");
    st->read_past = propbool(p, "probe.read_past");
    st->worker_log = propbool(p, "probe.worker_log");
    st->api = p->api;
    if (st->worker_log) {
        pthread_t th;
        worker_log(st, "init");
        if (pthread_create(&th, NULL, own_thread, st) == 0) {
            pthread_join(th, NULL);
        }
    }

    /* what FLBPluginSetContext does */
    p->context->remote_context = st;
    last_state = st;
    return propint(p, "probe.init_ret", 1);
}

static int do_flush(struct state *st, const void *data, int size, const char *tag)
{
    int n = atomic_fetch_add(&st->n, 1) + 1;
    int inflight = atomic_fetch_add(&st->inflight, 1) + 1;
    int ret;
    char lab[300];
    char tg[600];
    const unsigned char *d = data;
    volatile unsigned char sink;

    if (st->sleep_ms > 0) {
        struct timespec ts = {st->sleep_ms / 1000, (long) (st->sleep_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (n <= st->retry_first) {
        ret = 2;
    }
    else if (n <= st->retry_first + st->error_first) {
        ret = 0;
    }
    else if (n <= st->retry_first + st->error_first + st->invalid_first) {
        ret = 7;
    }
    else {
        ret = st->ret;
    }
    if (st->worker_log) {
        worker_log(st, "flush");
    }
    jesc(lab, sizeof(lab), st->label);
    jesc(tg, sizeof(tg), tag);
    emit("{\"ev\":\"flush\",\"label\":%s,\"n\":%d,\"size\":%d,\"tag\":%s,\"b0\":%d,"
         "\"inflight\":%d,\"ret\":%d,\"tid\":%ld}",
         lab, n, size, tg, size > 0 ? d[0] : -1, inflight, ret, tid());
    if (st->read_past) {
        emit("{\"ev\":\"read_past\",\"label\":%s}", lab);
        sink = d[size];
        (void) sink;
    }
    if (st->write_chunk) {
        emit("{\"ev\":\"write_chunk\",\"label\":%s}", lab);
        ((volatile unsigned char *) data)[0] = 0x42;
        emit("{\"ev\":\"write_chunk_survived\",\"label\":%s}", lab);
    }
    atomic_fetch_sub(&st->inflight, 1);
    return ret;
}

#ifndef PROBE_NO_CTX
EXPORT int FLBPluginFlushCtx(void *ctx, void *data, int size, char *tag)
{
    struct state *st = ctx;
    if (!st || st->magic != 0x50524f42) {
        emit("{\"ev\":\"badctx\",\"where\":\"flush\"}");
        return 0;
    }
    return do_flush(st, data, size, tag);
}
#endif

EXPORT int FLBPluginFlush(void *data, int size, char *tag)
{
    emit("{\"ev\":\"oldflush\"}");
    return do_flush(last_state, data, size, tag);
}

#ifndef PROBE_NO_CTX
EXPORT int FLBPluginExitCtx(void *ctx)
{
    struct state *st = ctx;
    char lab[300];
    if (!st || st->magic != 0x50524f42) {
        emit("{\"ev\":\"badctx\",\"where\":\"exit\"}");
        return 0;
    }
    jesc(lab, sizeof(lab), st->label);
    emit("{\"ev\":\"exitctx\",\"label\":%s,\"tid\":%ld}", lab, tid());
    return 0;
}

EXPORT void FLBPluginOutputPreExit(int by_reload)
{
    emit("{\"ev\":\"preexit\",\"reload\":%d,\"tid\":%ld}", by_reload, tid());
}
#endif

EXPORT int FLBPluginExit(void)
{
    emit("{\"ev\":\"exit\",\"tid\":%ld}", tid());
    return 0;
}

EXPORT int FLBPluginOutputPreRun(int hot_reload)
{
    emit("{\"ev\":\"prerun\",\"hot\":%d}", hot_reload);
    return 0;
}

EXPORT void FLBPluginUnregister(struct flb_plugin_proxy_def *def)
{
    char nm[300];
    jesc(nm, sizeof(nm), def->name);
    emit("{\"ev\":\"unregister\",\"name\":%s,\"tid\":%ld}", nm, tid());
    free(def->name);
    free(def->description);
}
