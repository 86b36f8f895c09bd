/*
 * flbhost: where log lines go, as Fluent Bit's logger sends them
 * (src/flb_log.c, src/flb_worker.c, src/flb_engine.c flb_engine_log_start).
 *
 * Every line, the host's own, the api's log_print and the exported
 * flb_log_print, goes through libflbcore.so's flb_log_print, which looks
 * at the calling thread's flb_worker_ctx: a thread with a worker writes
 * to the log ([SERVICE] Log_File, else stderr) and counts the line in
 * fluentbit_logs_total; any other thread writes to stderr, uncounted.
 * Workers: the engine thread and each output worker thread; not the main
 * thread, which loads and registers the plugin and runs hot reloads.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "host.h"

static struct {
    void (*set_log)(int level, int with_ms, int fd);
    void *(*worker_create)(void);
    void (*config_exit)(void);
    void (*logs_total)(long out[FLB_LOG_TRACE + 1]);
    void (*vlog)(int type, const char *fmt, va_list ap);
    void (*print)(int type, const char *file, int line, const char *fmt, ...);
} core;

static int log_fd = -1;

static void *need(void *h, const char *path, const char *name)
{
    void *f = dlsym(h, name);
    if (!f) {
        die(1, "[flbhost] %s lacks %s", path, name);
    }
    return f;
}

void hostlog_load(void *h, const char *path)
{
    core.set_log = (void (*)(int, int, int)) need(h, path, "flbhost_core_set_log");
    core.worker_create = (void *(*)(void)) need(h, path, "flbhost_core_worker_create");
    core.config_exit = (void (*)(void)) need(h, path, "flbhost_core_config_exit");
    core.logs_total = (void (*)(long *)) need(h, path, "flbhost_core_logs_total");
    core.vlog = (void (*)(int, const char *, va_list)) need(h, path, "flbhost_core_vlog");
    core.print = (void (*)(int, const char *, int, const char *, ...))
        need(h, path, "flb_log_print");
    core.set_log(g_log_level, g_log_ms, log_fd >= 0 ? log_fd : STDERR_FILENO);
    g_log_sink = core.vlog;
}

void hostlog_open(const char *path)
{
    if (!path) {
        return;
    }
    /* flb_log_create(): the file is opened in append mode */
    log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        die(1, "[log] could not open log file %s", path);
    }
}

void hostlog_engine_start(void)
{
    core.worker_create();
}

void hostlog_thread_start(void)
{
    core.worker_create();
}

void hostlog_config_exit(void)
{
    core.config_exit();
}

log_print_fn hostlog_print(void)
{
    return core.print;
}

void hostlog_print_totals(void)
{
    long t[FLB_LOG_TRACE + 1];
    core.logs_total(t);
    printf("flbhost: logs_total {\"error\":%ld,\"warn\":%ld,\"info\":%ld,\"debug\":%ld,"
           "\"trace\":%ld}\n", t[FLB_LOG_ERROR], t[FLB_LOG_WARN], t[FLB_LOG_INFO],
           t[FLB_LOG_DEBUG], t[FLB_LOG_TRACE]);
}
