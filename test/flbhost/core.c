/*
 * The few Fluent Bit core functions a plugin may look up with
 * dlsym(RTLD_DEFAULT, ...). Built twice: into libflbcore.so with default
 * visibility (what a real fluent-bit executable exports), and into the
 * host with hidden visibility (so the host itself exports none of them and
 * --hide-symbols really hides them).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

/* Offset of the flb_net_host inside the host's instance; set by the host
 * at start-up (depends on --host-field-pad). */
static size_t host_offset = sizeof(struct flb_output_instance);

FLB_EXPORT void flbhost_core_set_host_offset(size_t off)
{
    host_offset = off;
}

struct flb_net_host *flbcore_host(struct flb_output_instance *ins)
{
    return (struct flb_net_host *) ((char *) ins + host_offset);
}

/* The fluent-bit command's entry point (src/fluent-bit.c), which its
 * executable exports and a program embedding Fluent Bit as a library does
 * not: the host plays the command, and never calls it. */
FLB_EXPORT int flb_main(int argc, char **argv)
{
    (void) argc;
    (void) argv;
    abort();
}

FLB_EXPORT flb_sds_t flb_sds_create_len(const char *str, int len)
{
    struct flb_sds *h;

    if (len < 0) {
        len = 0;
    }
    h = malloc(FLB_SDS_HEADER_SIZE + (size_t) len + 1);
    if (!h) {
        return NULL;
    }
    h->len = (uint64_t) len;
    h->alloc = (uint64_t) len;
    if (str && len > 0) {
        memcpy(h->buf, str, (size_t) len);
    }
    else {
        memset(h->buf, 0, (size_t) len);
    }
    h->buf[len] = '\0';
    return h->buf;
}

FLB_EXPORT flb_sds_t flb_sds_create(const char *str)
{
    return flb_sds_create_len(str, str ? (int) strlen(str) : 0);
}

FLB_EXPORT void flb_sds_destroy(flb_sds_t s)
{
    struct flb_sds *h;

    if (!s) {
        return;
    }
    h = (struct flb_sds *) (s - FLB_SDS_HEADER_SIZE);
    /* poison, so a plugin that keeps using a destroyed string notices */
    memset(h->buf, 0x5a, (size_t) h->len);
    h->len = 0xdeadbeefULL;
    free(h);
}

/* Same contract as Fluent Bit: set host.name when NULL, host.port when 0 */
FLB_EXPORT void flb_output_net_default(const char *host, const int port,
                                       struct flb_output_instance *ins)
{
    struct flb_net_host *h = flbcore_host(ins);

    if (!h->name) {
        h->name = flb_sds_create(host);
    }
    if (h->port == 0) {
        h->port = port;
    }
}

FLB_EXPORT const char *flb_output_name(struct flb_output_instance *ins)
{
    if (ins->alias) {
        return ins->alias;
    }
    return ins->name;
}

/* --- logging, exported by every Fluent Bit (src/flb_log.c, src/flb_worker.c) ---
 * Only in libflbcore.so: the host reaches it through the library too
 * (hostlog.c), so that there is one flb_worker_ctx. */
#ifdef FLBCORE_SHARED

/* Fluent Bit's threads are flb_workers: the engine thread gets the log's
 * own worker (flb_log_create), every output worker thread one of its own
 * (flb_worker_create from flb_tp_thread_start). A plugin's own threads,
 * and the main thread that loads and registers plugins, have none:
 * flb_worker_get() returns NULL there and flb_log_print writes to stderr,
 * uncounted. flb_worker_ctx is a __thread variable the executable exports
 * (FLB_HAVE_C_TLS, include/fluent-bit/flb_thread_storage.h). Workers live
 * as long as their config: a hot reload or the shutdown destroys them after
 * the instances' exits, before FLBPluginUnregister (flb_config_exit calls
 * flb_log_destroy first); here they are poisoned, never freed, so that a
 * later use aborts instead of reading freed memory. */
#define WORKER_ALIVE 0x776f726b65724f4bULL
#define WORKER_DEAD  0xdeadbeefdeadbeefULL

struct flb_worker {
    uint64_t magic;
    struct flb_worker *next;
};

#ifdef FLBCORE_WORKER_KEY
/* a build without FLB_HAVE_C_TLS: FLB_TLS_DEFINE makes a pthread key */
FLB_EXPORT pthread_key_t flb_worker_ctx;
FLB_EXPORT pthread_once_t flb_worker_ctx_once = PTHREAD_ONCE_INIT;

static void worker_key_create(void)
{
    pthread_key_create(&flb_worker_ctx, NULL);
}

static struct flb_worker *worker_tls_get(void)
{
    pthread_once(&flb_worker_ctx_once, worker_key_create);
    return pthread_getspecific(flb_worker_ctx);
}

static void worker_tls_set(struct flb_worker *w)
{
    pthread_once(&flb_worker_ctx_once, worker_key_create);
    pthread_setspecific(flb_worker_ctx, w);
}
#else
FLB_EXPORT __thread struct flb_worker *flb_worker_ctx;

static struct flb_worker *worker_tls_get(void)
{
    return flb_worker_ctx;
}

static void worker_tls_set(struct flb_worker *w)
{
    flb_worker_ctx = w;
}
#endif

static pthread_mutex_t workers_mu = PTHREAD_MUTEX_INITIALIZER;
static struct flb_worker *workers;       /* of the config running now */
static long logs_total[FLB_LOG_TRACE + 1]; /* fluentbit_logs_total by level */
static int log_fd = STDERR_FILENO;       /* Log_File, else stderr */

FLB_EXPORT void flbhost_core_set_log(int level, int with_ms, int fd)
{
    g_log_level = level;
    g_log_ms = with_ms;
    log_fd = fd;
}

/* a new worker of the running config, this thread's from now on */
FLB_EXPORT void *flbhost_core_worker_create(void)
{
    struct flb_worker *w = xmalloc(sizeof(*w));
    w->magic = WORKER_ALIVE;
    pthread_mutex_lock(&workers_mu);
    w->next = workers;
    workers = w;
    pthread_mutex_unlock(&workers_mu);
    worker_tls_set(w);
    return w;
}

/* the config is destroyed: so are its workers (flb_worker_exit, flb_log_destroy) */
FLB_EXPORT void flbhost_core_config_exit(void)
{
    struct flb_worker *w;
    pthread_mutex_lock(&workers_mu);
    for (w = workers; w; w = w->next) {
        w->magic = WORKER_DEAD;
    }
    workers = NULL;
    pthread_mutex_unlock(&workers_mu);
    worker_tls_set(NULL);
}

FLB_EXPORT void flbhost_core_logs_total(long out[FLB_LOG_TRACE + 1])
{
    int i;
    for (i = 0; i <= FLB_LOG_TRACE; i++) {
        out[i] = __atomic_load_n(&logs_total[i], __ATOMIC_RELAXED);
    }
}

static void check_worker(struct flb_worker *w, const char *fn)
{
    if (w->magic == WORKER_ALIVE) {
        return;
    }
    fprintf(stderr, "flbhost: FATAL: %s() on a thread whose flb_worker_ctx is %p, %s "
            "(Fluent Bit would use freed memory)\n", fn, (void *) w,
            w->magic == WORKER_DEAD ? "a worker of a destroyed config" : "not a worker");
    abort();
}

/* flb_log_print of the calling thread: through its worker to the log
 * (Log_File or stderr) and counted, else straight to stderr */
FLB_EXPORT void flbhost_core_vlog(int type, const char *fmt, va_list ap)
{
    struct flb_worker *w = worker_tls_get();
    if (!w) {
        log_vemit_fd(STDERR_FILENO, type, fmt, ap);
        return;
    }
    check_worker(w, "flb_log_print");
    if (type >= 0 && type <= FLB_LOG_TRACE) {
        __atomic_add_fetch(&logs_total[type], 1, __ATOMIC_RELAXED);
    }
    log_vemit_fd(log_fd, type, fmt, ap);
}

/* the caller checks the level, as flb_log_check() does for the core */
FLB_EXPORT void flb_log_print(int type, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    (void) file;
    (void) line;
    va_start(ap, fmt);
    flbhost_core_vlog(type, fmt, ap);
    va_end(ap);
}

FLB_EXPORT void *flb_worker_get(void)
{
    return worker_tls_get();
}

FLB_EXPORT int flb_worker_log_level(void *worker)
{
    if (!worker) {
        fprintf(stderr, "flbhost: FATAL: flb_worker_log_level(NULL) (Fluent Bit dereferences it)\n");
        abort();
    }
    check_worker(worker, "flb_worker_log_level");
    return g_log_level;
}
#endif

#ifndef FLBCORE_1_9
/* from 2.0 (src/flb_output.c) */
FLB_EXPORT int flb_output_log_check(struct flb_output_instance *ins, int l)
{
    if (!ins || ins->magic != FLBHOST_INS_MAGIC) {
        fprintf(stderr, "flbhost: FATAL: flb_output_log_check() called with %p\n", (void *) ins);
        abort();
    }
    return ins->log_level < l ? 0 : 1;
}
#endif
