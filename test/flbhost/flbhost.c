/*
 * flbhost: loads a Fluent Bit Go output plugin and drives it the way
 * Fluent Bit v5.1.1 does (src/flb_plugin_proxy.c, src/proxy/go/go.c,
 * src/flb_output.c, src/flb_engine.c). See README.md.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

/* ------------------------------------------------------------------ */
/* options and global state                                            */
/* ------------------------------------------------------------------ */

struct chunk_src {
    unsigned char *data;
    size_t size;
    char *tag;
};

static struct {
    const char *plugin_path;
    int hide_symbols;
    char **builtins;
    int nbuiltins;
    long host_pad;
    long retry_wait_ms;
    long retry_cap_ms;
    double max_runtime;
    long reload_after;
    long repeat;
    const char *log_level;
    const struct flb_profile *profile;
    int no_metrics;
    int worker_key;
    long grace;
    long chunk_interval_ms;
} opt = {
    NULL, 0, NULL, 0, 0, 1000, 2000L * 1000, 0, 0, 1, NULL, NULL, 0, 0, 5, 0
};

static struct config cfg;
static struct chunk_src *chunks;
static int nchunks;
static char *exe_dir;
/* fluent-bit.c's: what its signal handlers set */
static volatile sig_atomic_t exit_signal;
static volatile sig_atomic_t reload_requested;   /* flb_bin_restarting */
static volatile sig_atomic_t dump_requested;

/* per instance name: counters that survive a hot reload */
struct stats {
    char *instance;
    char *plugin;
    char *alias;
    long chunks, flushes, ok, retried, dropped, errors, invalid;
    int max_inflight;
    int workers;
};
static struct stats **stats;
static int nstats;
static pthread_mutex_t stats_mu = PTHREAD_MUTEX_INITIALIZER;

struct job;

struct hinst {
    struct flb_output_instance *ins;
    struct stats *st;
    int pending;              /* jobs dispatched, result not handled yet */
    atomic_int inflight;      /* flush calls running right now */
    /* workers */
    pthread_t *threads;
    int nthreads;
    struct job *q_head, *q_tail;
    pthread_mutex_t q_mu;
    pthread_cond_t q_cv;
    int q_stop;
};

struct task {
    int id;
    int src;
    char name[64];
    int users;
};

struct job {
    struct task *task;
    struct hinst *hi;
    int attempts;             /* retries scheduled so far */
    int64_t due;
    int ret;
    struct job *next;
};

/* one registration of the plugin: flb_plugin_proxy (its first fields as
 * in every release: a plugin may follow an instance's context to it) and
 * go.c's plugin struct. A hot reload makes another while the old one runs. */
struct proxy {
    struct flb_plugin_proxy_def *def;
    struct flb_api *api;                 /* the profile's size, before a guard page */
    void *instance;
    void *dso;
    void *data;                          /* &plugin, as go.c's proxy->data */
    struct flbgo_output_plugin plugin;   /* ONE per registration, shared by its instances */
    int (*pre_register)(int);
    int (*reg)(struct flb_plugin_proxy_def *);
    void (*unregister)(struct flb_plugin_proxy_def *);
    void (*pre_exit)(int);
    int (*pre_run)(int);
    char *name;
};
static struct proxy *P;                /* the registration of the running pipeline */

static struct hinst **insts;
static int ninsts;
static int hot_reload_enabled;
static int ensure_thread_safety = 1;  /* Hot_Reload.Ensure_Thread_Safety, on by default */
static int hot_reloading;
static atomic_int shutdown_by_hot_reloading; /* a hot reload began (2.2: never reset when it fails) */
static int is_shutting_down;          /* the engine stops: retries come after 1 s */
static int generation;                /* hot reloads so far */
static size_t host_offset;

/* engine synchronisation */
static pthread_mutex_t eng_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t eng_cv = PTHREAD_COND_INITIALIZER;
static struct job *done_head, *done_tail;
static struct job *retries;     /* waiting for their due time */
static struct task *tasks[2048];
static const char *input_name = "flbhost.0";

/* ------------------------------------------------------------------ */
/* the api table                                                       */
/* ------------------------------------------------------------------ */

static struct flb_output_instance *check_ins(struct flb_output_instance *ins, const char *fn)
{
    if (!ins || ins->magic != FLBHOST_INS_MAGIC) {
        fprintf(stderr, "flbhost: FATAL: %s() called with %p, which is not an output "
                "instance handed out by this host\n", fn, (void *) ins);
        abort();
    }
    return ins;
}

static const char *api_output_get_property(const char *key, struct flb_output_instance *ins)
{
    int i;
    check_ins(ins, "output_get_property");
    if (!key) {
        return NULL;
    }
    for (i = 0; i < ins->nprops; i++) {
        if (strcasecmp(ins->props[i].key, key) == 0) {
            return ins->props[i].val;     /* first one wins; may be NULL */
        }
    }
    return NULL;
}

static const char *api_input_get_property(const char *key, void *i_ins)
{
    (void) key;
    (void) i_ins;
    return NULL;
}

static void *api_output_get_cmt_instance(struct flb_output_instance *ins)
{
    check_ins(ins, "output_get_cmt_instance");
    return ins->cmt;
}

static void *api_input_get_cmt_instance(void *i_ins)
{
    (void) i_ins;
    return NULL;
}

static int api_input_log_check(void *i_ins, int l)
{
    (void) i_ins;
    (void) l;
    return 0;
}

static int api_output_log_check(struct flb_output_instance *ins, int l)
{
    check_ins(ins, "output_log_check");
    return ins->log_level < l ? 0 : 1;
}

static const char *api_custom_get_property(const char *key, void *c)
{
    (void) key;
    (void) c;
    return NULL;
}

static int api_custom_log_check(void *c, int l)
{
    (void) c;
    (void) l;
    return 0;
}

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

static struct stats *stats_for(struct flb_output_instance *ins)
{
    int i;
    struct stats *s;
    for (i = 0; i < nstats; i++) {
        if (strcmp(stats[i]->instance, ins->name) == 0) {
            return stats[i];
        }
    }
    s = xmalloc(sizeof(*s));
    s->instance = xstrdup(ins->name);
    s->plugin = xstrdup(P->name);
    s->alias = xstrdup(ins->alias ? ins->alias : "");
    stats = xrealloc(stats, sizeof(struct stats *) * (size_t) (nstats + 1));
    stats[nstats++] = s;
    return s;
}

static void plg_log(struct flb_output_instance *ins, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void plg_log(struct flb_output_instance *ins, int level, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    if (ins->log_level < level) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    hostlog_print()(level, __FILE__, __LINE__, "[output:%s:%s] %s", P->name,
                  flb_output_name(ins), buf);
}

static int match_tag(const char *str, int len, const char *m)
{
    /* flb_router_match: '*' wildcards, case-sensitive */
    while (1) {
        if (*m == '\0') {
            return len == 0;
        }
        if (*m == '*') {
            while (*++m == '*') {
            }
            if (*m == '\0') {
                return 1;
            }
            while (len > 0) {
                if (match_tag(str, len, m)) {
                    return 1;
                }
                str++;
                len--;
            }
            return 0;
        }
        if (len > 0 && *m == *str) {
            m++;
            str++;
            len--;
            continue;
        }
        return 0;
    }
}

static int hidden_key(const char *k)
{
    static const char *exact[] = {
        "name", "match", "match_regex", "alias", "log_level",
        "log_suppress_interval", "host", "port", "ipv6", "retry_limit",
        "workers", "storage.total_limit_size", "tls", NULL
    };
    int i;
    for (i = 0; exact[i]; i++) {
        if (strcasecmp(k, exact[i]) == 0) {
            return 1;
        }
    }
    return strncasecmp(k, "tls.", 4) == 0 || strncasecmp(k, "net.", 4) == 0;
}

/* Fluent Bit 5's OAuth2 config map (src/flb_oauth2.c): the only oauth2*
 * keys its core takes. */
static const char *oauth2_keys[] = {
    "oauth2.enable", "oauth2.token_url", "oauth2.client_id", "oauth2.client_secret",
    "oauth2.user_agent", "oauth2.scope", "oauth2.audience", "oauth2.resource",
    "oauth2.auth_method", "oauth2.jwt_key_file", "oauth2.jwt_cert_file", "oauth2.jwt_aud",
    "oauth2.jwt_header", "oauth2.jwt_ttl_seconds", "oauth2.refresh_skew_seconds",
    "oauth2.timeout", "oauth2.connect_timeout", NULL
};

/* flb_output_oauth2_property_check (5.0 on), before the plugin's init:
 * every oauth2* key the core kept must be one of its map, each once
 * (flb_config_map_properties_check). */
static void oauth2_property_check(struct flb_output_instance *ins)
{
    int i;
    int j;
    int count;
    for (i = 0; i < ins->noauth2; i++) {
        const char *k = ins->oauth2[i].key;
        for (j = 0; oauth2_keys[j] && strcasecmp(k, oauth2_keys[j]) != 0; j++) {
        }
        if (!oauth2_keys[j]) {
            hlog(FLB_LOG_ERROR, "[config] %s: unknown configuration property '%s'. "
                 "The following properties are allowed: oauth2.enable, oauth2.token_url, "
                 "oauth2.client_id, oauth2.client_secret, oauth2.user_agent, oauth2.scope, "
                 "oauth2.audience, oauth2.resource, oauth2.auth_method, oauth2.jwt_key_file, "
                 "oauth2.jwt_cert_file, oauth2.jwt_aud, oauth2.jwt_header, "
                 "oauth2.jwt_ttl_seconds, oauth2.refresh_skew_seconds, oauth2.timeout, and "
                 "oauth2.connect_timeout.", P->name, k);
            hlog(FLB_LOG_ERROR, "[engine] output initialization failed");
            fflush(stdout);
            exit(255);
        }
        for (count = 0, j = 0; j < ins->noauth2; j++) {
            count += strcasecmp(k, ins->oauth2[j].key) == 0;
        }
        if (count > 1) {
            hlog(FLB_LOG_ERROR, "[config] %s: configuration property '%s' is set %i times",
                 P->name, k, count);
            hlog(FLB_LOG_ERROR, "[engine] output initialization failed");
            fflush(stdout);
            exit(255);
        }
    }
}

/* flb_output_set_property */
static void set_property(struct flb_output_instance *ins, const char *k, const char *v)
{
    char *tmp = env_translate(v);
    struct flb_net_host *h = flbcore_host(ins);

    if (tmp && *tmp == '\0') {
        free(tmp);
        tmp = NULL;
    }
    if (strcasecmp(k, "match") == 0) {
        free(ins->match);
        ins->match = tmp;
        return;
    }
    if (strcasecmp(k, "match_regex") == 0) {
        if (tmp) {
            die(1, "[flbhost] %s: Match_Regex is not supported by flbhost", ins->name);
        }
        return;
    }
    if (strcasecmp(k, "alias") == 0) {
        if (tmp) {
            flb_sds_destroy(ins->alias);
            ins->alias = flb_sds_create(tmp);
        }
    }
    else if (strcasecmp(k, "log_level") == 0) {
        if (tmp) {
            int l = parse_log_level(tmp);
            if (l < 0) {
                die(1, "[config] could not set property 'log_level' to '%s' on %s", tmp, ins->name);
            }
            ins->log_level = l;
        }
    }
    else if (strcasecmp(k, "host") == 0) {
        flb_sds_destroy(h->name);
        h->name = tmp ? flb_sds_create(tmp) : NULL;
    }
    else if (strcasecmp(k, "port") == 0) {
        h->port = tmp ? atoi(tmp) : 0;
    }
    else if (strcasecmp(k, "ipv6") == 0) {
        if (tmp) {
            h->ipv6 = parse_bool(tmp);
        }
    }
    else if (strcasecmp(k, "retry_limit") == 0) {
        if (!tmp) {
            ins->retry_limit = 1;
        }
        else if (strcasecmp(tmp, "no_limits") == 0 || strcasecmp(tmp, "false") == 0 ||
                 strcasecmp(tmp, "off") == 0) {
            ins->retry_limit = FLB_OUT_RETRY_UNLIMITED;
        }
        else if (strcasecmp(tmp, "no_retries") == 0) {
            ins->retry_limit = FLB_OUT_RETRY_NONE;
        }
        else {
            ins->retry_limit = atoi(tmp);
            if (ins->retry_limit <= 0) {
                hlog(FLB_LOG_WARN, "[config] invalid retry_limit. set default.");
                ins->retry_limit = 1;
            }
        }
    }
    else if (strcasecmp(k, "workers") == 0) {
        if (tmp) {
            ins->workers = atoi(tmp);
        }
    }
    else if (strcasecmp(k, "tls") == 0) {
        if (tmp) {
            ins->tls_on = parse_bool(tmp);
            if (ins->tls_on && !(ins->flags & (FLB_IO_TLS | FLB_IO_OPT_TLS))) {
                if (opt.profile->bad_property_stops) {
                    die(1, "[config] %s %s", ins->name, opt.profile->no_tls);
                }
                /* Before 4.0.3 flb_config.c logs the refusal and goes on:
                 * the instance runs without TLS. */
                hlog(FLB_LOG_ERROR, "[config] %s %s", ins->name, opt.profile->no_tls);
                hlog(FLB_LOG_ERROR, "[config] could not configure property 'tls' on output plugin "
                     "with section name '%.*s'", (int) strcspn(ins->name, "."), ins->name);
                ins->tls_on = 0;
            }
        }
    }
    else if (opt.profile->oauth2_keys && strncasecmp(k, "oauth2", 6) == 0 && tmp) {
        /* 5.0 on: the core keeps a set oauth2* key in its own list */
        ins->oauth2 = xrealloc(ins->oauth2, sizeof(struct hprop) * (size_t) (ins->noauth2 + 1));
        ins->oauth2[ins->noauth2].key = xstrdup(k);
        ins->oauth2[ins->noauth2].val = tmp;
        ins->noauth2++;
        return;
    }
    else if (!hidden_key(k)) {
        if (ins->nprops == ins->props_cap) {
            ins->props_cap = ins->props_cap ? ins->props_cap * 2 : 8;
            ins->props = xrealloc(ins->props, sizeof(struct hprop) * (size_t) ins->props_cap);
        }
        ins->props[ins->nprops].key = xstrdup(k);
        ins->props[ins->nprops].val = tmp;
        ins->nprops++;
        return;
    }
    free(tmp);
}

/* name part of "name://..." compared like check_protocol() */
static int name_matches(const char *plugin, const char *spec)
{
    const char *p = strstr(spec, "://");
    size_t len = (p && p != spec) ? (size_t) (p - spec) : strlen(spec);
    return strlen(plugin) == len && strncasecmp(plugin, spec, len) == 0;
}

/* flb_net_host_set */
static int net_host_set(struct flb_net_host *h, const char *plugin, const char *address)
{
    size_t olen = strlen(address);
    size_t len = strlen(plugin) + 3;
    const char *s;
    const char *e;
    const char *u;

    memset(h, 0, sizeof(*h));
    if (olen == strlen(plugin)) {
        return 0;
    }
    if (olen < len) {
        return -1;
    }
    s = address + len;
    if (*s == '[') {
        e = strchr(++s, ']');
        if (!e) {
            return -1;
        }
        h->name = flb_sds_create_len(s, (int) (e - s));
        h->ipv6 = 1;
        s = e + 1;
    }
    else {
        e = s;
        while (!(*e == '\0' || *e == ':' || *e == '/')) {
            ++e;
        }
        if (e == s) {
            return -1;
        }
        h->name = flb_sds_create_len(s, (int) (e - s));
        s = e;
    }
    if (*s == ':') {
        h->port = atoi(++s);
    }
    u = strchr(s, '/');
    if (u) {
        h->uri = xmalloc(sizeof(struct flb_uri));
        h->uri->full = xstrdup(u);
    }
    h->address = flb_sds_create(address);
    if (h->name) {
        h->listen = flb_sds_create(h->name);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* plugin loading and registration                                     */
/* ------------------------------------------------------------------ */

static void *sym(struct proxy *p, const char *name)
{
    void *s;
    dlerror();
    s = dlsym(p->dso, name);
    if (dlerror() != NULL) {
        return NULL;
    }
    return s;
}

/* ------------------------------------------------------------------ */
/* version profiles (--flb-version): what differs between releases     */
/* ------------------------------------------------------------------ */

/* libflbcmt.so's bookkeeping, NULL without metrics */
static struct {
    void *(*create)(void);
    void (*print)(void *, const char *, int);
    void (*destroy)(void *);
} cmt;

/* Memory of exactly size bytes that ends where a PROT_NONE page begins:
 * a plugin that reads or writes past a struct of the profile's size
 * faults at once, as it would read another object in Fluent Bit. */
static void *guarded_alloc(size_t size)
{
    long pg = sysconf(_SC_PAGESIZE);
    size_t pages = (size + (size_t) pg - 1) / (size_t) pg;
    unsigned char *map;

    map = mmap(NULL, (pages + 1) * (size_t) pg, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        die(1, "[flbhost] mmap failed: %s", strerror(errno));
    }
    if (mprotect(map + pages * (size_t) pg, (size_t) pg, PROT_NONE) != 0) {
        die(1, "[flbhost] mprotect failed: %s", strerror(errno));
    }
    return map + pages * (size_t) pg - size;
}

static void guarded_free(void *p, size_t size)
{
    long pg = sysconf(_SC_PAGESIZE);
    size_t pages = (size + (size_t) pg - 1) / (size_t) pg;
    unsigned char *end = (unsigned char *) p + size;
    munmap(end - pages * (size_t) pg, (pages + 1) * (size_t) pg);
}

static void api_unset_field(void)
{
    fprintf(stderr, "flbhost: FATAL: the plugin called an api field this Fluent Bit %s "
            "leaves unset (built without FLB_HAVE_METRICS: output_get_cmt_instance)\n",
            opt.profile->release);
    abort();
}

/* flb_api_create(): only the fields of the profile's struct flb_api */
static struct flb_api *profile_api(void)
{
    struct flb_api full;
    size_t size = (size_t) opt.profile->api_fields * sizeof(void *);
    struct flb_api *api = guarded_alloc(size);

    full.output_get_property = api_output_get_property;
    full.input_get_property = api_input_get_property;
    full.output_get_cmt_instance = api_output_get_cmt_instance;
    if (!cmt.create) {
        full.output_get_cmt_instance = (void *(*)(struct flb_output_instance *)) api_unset_field;
    }
    full.input_get_cmt_instance = api_input_get_cmt_instance;
    full.log_print = hostlog_print(); /* flb_log_print itself, as flb_api_create */
    full.input_log_check = api_input_log_check;
    full.output_log_check = api_output_log_check;
    full.custom_get_property = api_custom_get_property;
    full.custom_log_check = api_custom_log_check;
    memcpy(api, &full, size);
    return api;
}

static void profile_api_free(struct flb_api *api)
{
    if (api) {
        guarded_free(api, (size_t) opt.profile->api_fields * sizeof(void *));
    }
}

static size_t def_size(void)
{
    return opt.profile->def_fields > 5 ? sizeof(struct flb_plugin_proxy_def)
                                       : offsetof(struct flb_plugin_proxy_def, event_type);
}

/* flb_plugin_proxy_create(): flb_malloc'ed (garbage) before 5.0, then
 * flb_calloc'ed; type set before FLBPluginRegister */
static struct flb_plugin_proxy_def *profile_def(void)
{
    struct flb_plugin_proxy_def *def = guarded_alloc(def_size());
    memset(def, opt.profile->def_zeroed ? 0 : 0xa5, def_size());
    def->type = FLB_PROXY_OUTPUT_PLUGIN;
    return def;
}

static void profile_free(struct flb_plugin_proxy_def *def)
{
    guarded_free(def, def_size());
}

static void *core_sym(void *h, const char *path, const char *name)
{
    void *f = dlsym(h, name);
    if (!f) {
        die(1, "[flbhost] %s lacks %s", path, name);
    }
    return f;
}

/* what the executable of the profile's release exports; with
 * --hide-symbols loaded RTLD_LOCAL, for the host's log only */
static void profile_load_core(void)
{
    char path[PATH_MAX];
    void *h;

    snprintf(path, sizeof(path), "%slibflbcore%s%s.so", exe_dir,
             opt.profile->core_2_0 ? "" : "19", opt.worker_key ? "_key" : "");
    h = dlopen(path, RTLD_NOW | (opt.hide_symbols ? RTLD_LOCAL : RTLD_GLOBAL));
    if (!h) {
        die(1, "[flbhost] cannot load %s: %s", path, dlerror());
    }
    ((void (*)(size_t)) core_sym(h, path, "flbhost_core_set_host_offset"))(host_offset);
    hostlog_load(h, path);
    if (!opt.profile->metrics || opt.no_metrics || opt.hide_symbols) {
        return;
    }
    snprintf(path, sizeof(path), "%slibflbcmt.so", exe_dir);
    h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        die(1, "[flbhost] cannot load %s: %s", path, dlerror());
    }
    cmt.create = (void *(*)(void)) core_sym(h, path, "flbhost_cmt_create");
    cmt.print = (void (*)(void *, const char *, int)) core_sym(h, path, "flbhost_cmt_print");
    cmt.destroy = (void (*)(void *)) core_sym(h, path, "flbhost_cmt_destroy");
    ((void (*)(const char *)) core_sym(h, path, "flbhost_cmt_set_version"))(
        opt.profile->cmt_version);
}

static void load_support_libs(void)
{
    char path[PATH_MAX];
    void *h;
    int i;

    profile_load_core();
    for (i = 0; i < opt.nbuiltins; i++) {
        snprintf(path, sizeof(path), "%slibbuiltin_%s.so", exe_dir, opt.builtins[i]);
        h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
        if (!h) {
            die(1, "[flbhost] --builtin %s: cannot load %s: %s (add the name to BUILTINS in the Makefile)",
                opt.builtins[i], path, dlerror());
        }
    }
}

/* flb_plugin_proxy_create() and flb_plugin_proxy_register(): on the main
 * thread, which has no worker; hot is config->hot_reloading */
static struct proxy *plugin_load_and_register(int hot)
{
    struct proxy *p = xmalloc(sizeof(*p));
    struct flb_plugin_proxy_def *def;
    char *jn;
    char *jd;

    memset(p, 0, sizeof(*p));
    p->dso = dlopen(opt.plugin_path, RTLD_LAZY);
    if (!p->dso) {
        die(1, "[proxy] error opening plugin %s: '%s'", opt.plugin_path, dlerror());
    }
    p->reg = (int (*)(struct flb_plugin_proxy_def *)) sym(p, "FLBPluginRegister");
    p->unregister = (void (*)(struct flb_plugin_proxy_def *)) sym(p, "FLBPluginUnregister");
    if (opt.profile->pre_hooks) {
        p->pre_register = (int (*)(int)) sym(p, "FLBPluginPreRegister");
        p->pre_exit = (void (*)(int)) sym(p, "FLBPluginOutputPreExit");
        p->pre_run = (int (*)(int)) sym(p, "FLBPluginOutputPreRun");
    }
    if (p->pre_register) {
        if (p->pre_register(hot) == -1) {
            die(1, "[flbhost] FLBPluginPreRegister returned -1: Fluent Bit would not register "
                "the plugin");
        }
    }
    if (!p->reg) {
        die(1, "[flbhost] %s does not export FLBPluginRegister: Fluent Bit would not register it",
            opt.plugin_path);
    }
    def = profile_def();
    p->def = def;
    if (p->reg(def) == -1) {
        die(1, "[flbhost] FLBPluginRegister returned -1: Fluent Bit would not register the plugin");
    }
    p->api = profile_api();
    jn = json_str(def->name);
    jd = json_str(def->description);
    printf("flbhost: registered {\"name\":%s,\"description\":%s,\"type\":%d,\"proxy\":%d,"
           "\"flags\":%d,\"event_type\":%d}\n",
           jn, jd, def->type, def->proxy, def->flags,
           opt.profile->def_fields > 5 ? def->event_type : 0);
    fflush(stdout);
    free(jn);
    free(jd);
    if (def->proxy != FLB_PROXY_GOLANG || def->type != FLB_PROXY_OUTPUT_PLUGIN) {
        die(1, "[flbhost] registration gave type=%d proxy=%d; Fluent Bit registers an output "
            "only for type=2 proxy=11", def->type, def->proxy);
    }
    if (!def->name) {
        die(1, "[flbhost] FLBPluginRegister left the name NULL");
    }
    p->name = xstrdup(def->name);

    /* proxy_go_output_register */
    p->data = &p->plugin;
    p->plugin.cb_init = (int (*)(struct flbgo_output_plugin *)) sym(p, "FLBPluginInit");
    if (!p->plugin.cb_init) {
        die(1, "[go proxy]: could not load FLBPluginInit symbol");
    }
    p->plugin.cb_flush = (int (*)(const void *, int, const char *)) sym(p, "FLBPluginFlush");
    p->plugin.cb_flush_ctx = (int (*)(void *, const void *, int, char *)) sym(p, "FLBPluginFlushCtx");
    p->plugin.cb_exit = (int (*)(void)) sym(p, "FLBPluginExit");
    p->plugin.cb_exit_ctx = (int (*)(void *)) sym(p, "FLBPluginExitCtx");
    p->plugin.name = xstrdup(def->name);
    p->plugin.api = p->api;
    return p;
}

/* flb_plugin_proxy_destroy(): unregister, free the def and the api, dlclose */
static void proxy_destroy(struct proxy *p)
{
    if (!p->dso) {
        return;
    }
    if (p->unregister) {
        p->unregister(p->def);
    }
    free(p->plugin.name);
    free(p->name);
    p->name = NULL;
    profile_free(p->def);
    p->def = NULL;
    profile_api_free(p->api);
    p->api = NULL;
    dlclose(p->dso);
    p->dso = NULL;
}

static void plugin_unregister_and_close(void)
{
    proxy_destroy(P);
}

/* ------------------------------------------------------------------ */
/* instances                                                           */
/* ------------------------------------------------------------------ */

static int builtin_named(const char *spec)
{
    int i;
    for (i = 0; i < opt.nbuiltins; i++) {
        if (name_matches(opt.builtins[i], spec)) {
            return 1;
        }
    }
    return 0;
}

static void create_instances(void)
{
    int i;
    int j;
    int id = 0;
    int total_outputs = cfg.nouts;
    size_t alloc = host_offset + sizeof(struct flb_net_host) + 64;

    insts = NULL;
    ninsts = 0;
    for (i = 0; i < cfg.nouts; i++) {
        struct outdef *o = &cfg.outs[i];
        struct flb_output_instance *ins;
        struct hinst *hi;
        char *name;

        if (!o->name) {
            die(1, "[config] %s: [OUTPUT] without Name", o->origin);
        }
        name = env_translate(o->name);
        if (builtin_named(name)) {
            hlog(FLB_LOG_WARN, "[flbhost] output '%s' (%s) resolves to Fluent Bit's built-in "
                 "plugin (--builtin); the proxy plugin gets no instance for it", name, o->origin);
            id++;
            free(name);
            continue;
        }
        if (!name_matches(P->name, name)) {
            hlog(FLB_LOG_WARN, "[flbhost] output '%s' (%s) is not the loaded plugin '%s': "
                 "skipped", name, o->origin, P->name);
            id++;
            free(name);
            continue;
        }
        ins = xmalloc(alloc);
        ins->magic = FLBHOST_INS_MAGIC;
        ins->id = id++;
        snprintf(ins->name, sizeof(ins->name), "%s.%d", P->name, ins->id);
        ins->log_level = -1;
        ins->retry_limit = 1;
        ins->flags = P->def->flags;
        if (ins->flags & FLB_IO_OPT_TLS) {
            ins->flags |= FLB_IO_TLS;
        }
        ins->context = xmalloc(sizeof(struct flb_plugin_proxy_context));
        ins->context->proxy = P;
        if (cmt.create) {
            ins->cmt = cmt.create();
        }
        if (P->def->flags & FLB_OUTPUT_NET) {
            if (net_host_set(flbcore_host(ins), P->name, name) != 0) {
                die(1, "[flbhost] invalid output address '%s'", name);
            }
        }
        free(name);
        for (j = 0; j < o->props.n; j++) {
            set_property(ins, o->props.v[j].key, o->props.v[j].val);
        }
        if (ins->log_level == -1) {
            ins->log_level = g_log_level;
        }
        hi = xmalloc(sizeof(*hi));
        hi->ins = ins;
        ins->engine = hi;
        pthread_mutex_init(&hi->q_mu, NULL);
        pthread_cond_init(&hi->q_cv, NULL);
        insts = xrealloc(insts, sizeof(struct hinst *) * (size_t) (ninsts + 1));
        insts[ninsts++] = hi;
    }
    /* flb_router_io_set: one input and one output, no Match: match all
     * (the command-line chunks count as one input) */
    if (total_outputs == 1 && cfg.ninputs <= 1 && ninsts == 1 && !insts[0]->ins->match) {
        insts[0]->ins->match = xstrdup("*");
    }
    for (i = 0; i < ninsts; i++) {
        struct hinst *hi = insts[i];
        pthread_mutex_lock(&stats_mu);
        hi->st = stats_for(hi->ins);
        free(hi->st->alias);
        hi->st->alias = xstrdup(hi->ins->alias ? hi->ins->alias : "");
        if (hi->ins->workers > hi->st->workers) {
            hi->st->workers = hi->ins->workers;
        }
        pthread_mutex_unlock(&stats_mu);
        if (!hi->ins->match) {
            hlog(FLB_LOG_WARN, "[router] NO match for %s output instance", hi->ins->name);
        }
    }
}

static void destroy_instance(struct hinst *hi)
{
    struct flb_output_instance *ins = hi->ins;
    struct flb_net_host *h = flbcore_host(ins);
    int i;

    flb_sds_destroy(h->name);
    flb_sds_destroy(h->address);
    flb_sds_destroy(h->listen);
    if (h->uri) {
        free(h->uri->full);
        free(h->uri);
    }
    if (ins->cmt) {
        cmt.print(ins->cmt, ins->name, generation);
        cmt.destroy(ins->cmt);
    }
    flb_sds_destroy(ins->alias);
    free(ins->match);
    for (i = 0; i < ins->nprops; i++) {
        free(ins->props[i].key);
        free(ins->props[i].val);
    }
    free(ins->props);
    for (i = 0; i < ins->noauth2; i++) {
        free(ins->oauth2[i].key);
        free(ins->oauth2[i].val);
    }
    free(ins->oauth2);
    free(ins->context);
    /* poison: a plugin that kept o_ins past exit reads garbage */
    memset(ins, 0xa5, host_offset);
    free(ins);
    free(hi->threads);
    free(hi);
}

/* ------------------------------------------------------------------ */
/* flushing                                                            */
/* ------------------------------------------------------------------ */

static int run_flush(struct job *jb)
{
    struct hinst *hi = jb->hi;
    struct chunk_src *c = &chunks[jb->task->src];
    long pg = sysconf(_SC_PAGESIZE);
    size_t data_pages = (c->size + (size_t) pg - 1) / (size_t) pg;
    size_t maplen;
    unsigned char *map;
    unsigned char *data;
    char *tag;
    size_t taglen = strlen(c->tag);
    int now;
    int ret;

    if (data_pages == 0) {
        data_pages = 1;
    }
    /* data pages + one guard page; the chunk ends right at the guard page,
     * the pages are read-only while the plugin runs */
    maplen = (data_pages + 1) * (size_t) pg;
    map = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        die(1, "[flbhost] mmap failed: %s", strerror(errno));
    }
    data = map + data_pages * (size_t) pg - c->size;
    memcpy(data, c->data, c->size);
    if (mprotect(map, data_pages * (size_t) pg, PROT_READ) != 0 ||
        mprotect(map + data_pages * (size_t) pg, (size_t) pg, PROT_NONE) != 0) {
        die(1, "[flbhost] mprotect failed: %s", strerror(errno));
    }
    /* proxy_go_output_flush: a fresh NUL-terminated copy of the tag */
    tag = xmalloc(taglen + 1);
    memcpy(tag, c->tag, taglen + 1);

    pthread_mutex_lock(&stats_mu);
    hi->st->flushes++;
    pthread_mutex_unlock(&stats_mu);
    now = atomic_fetch_add(&hi->inflight, 1) + 1;
    pthread_mutex_lock(&stats_mu);
    if (now > hi->st->max_inflight) {
        hi->st->max_inflight = now;
    }
    pthread_mutex_unlock(&stats_mu);

    if (opt.profile->reload_refuses_flush && atomic_load(&shutdown_by_hot_reloading)) {
        /* 2.2's proxy_cb_flush, without calling the plugin */
        hlog(FLB_LOG_TRACE, "[GO] hot-reloading is in progress. Retry flushing");
        ret = FLB_RETRY;
    }
    else if (P->plugin.cb_flush_ctx) {
        ret = P->plugin.cb_flush_ctx(hi->ins->context->remote_context, data, (int) c->size, tag);
    }
    else if (P->plugin.cb_flush) {
        ret = P->plugin.cb_flush(data, (int) c->size, tag);
    }
    else {
        /* Fluent Bit would call a NULL FLBPluginFlush here */
        fprintf(stderr, "flbhost: FATAL: the plugin exports neither FLBPluginFlushCtx nor "
                "FLBPluginFlush\n");
        abort();
    }
    atomic_fetch_sub(&hi->inflight, 1);

    memset(tag, 0, taglen);
    free(tag);
    munmap(map, maplen);
    return ret;
}

static void *worker_main(void *arg)
{
    struct hinst *hi = arg;
    struct job *jb;

    hostlog_thread_start();
    while (1) {
        pthread_mutex_lock(&hi->q_mu);
        while (!hi->q_head && !hi->q_stop) {
            pthread_cond_wait(&hi->q_cv, &hi->q_mu);
        }
        if (!hi->q_head) {
            pthread_mutex_unlock(&hi->q_mu);
            break;
        }
        jb = hi->q_head;
        hi->q_head = jb->next;
        if (!hi->q_head) {
            hi->q_tail = NULL;
        }
        pthread_mutex_unlock(&hi->q_mu);

        jb->ret = run_flush(jb);
        jb->next = NULL;
        pthread_mutex_lock(&eng_mu);
        if (done_tail) {
            done_tail->next = jb;
        }
        else {
            done_head = jb;
        }
        done_tail = jb;
        pthread_cond_signal(&eng_cv);
        pthread_mutex_unlock(&eng_mu);
    }
    return NULL;
}

static void start_workers(struct hinst *hi)
{
    int i;
    if (hi->ins->workers <= 0) {
        return;
    }
    hi->nthreads = hi->ins->workers;
    hi->threads = xmalloc(sizeof(pthread_t) * (size_t) hi->nthreads);
    for (i = 0; i < hi->nthreads; i++) {
        if (pthread_create(&hi->threads[i], NULL, worker_main, hi) != 0) {
            die(1, "[flbhost] cannot start worker thread");
        }
        plg_log(hi->ins, FLB_LOG_INFO, "worker #%d started", i);
    }
}

static void stop_workers(struct hinst *hi)
{
    int i;
    if (hi->nthreads == 0) {
        return;
    }
    pthread_mutex_lock(&hi->q_mu);
    hi->q_stop = 1;
    pthread_cond_broadcast(&hi->q_cv);
    pthread_mutex_unlock(&hi->q_mu);
    for (i = 0; i < hi->nthreads; i++) {
        pthread_join(hi->threads[i], NULL);
    }
    hi->nthreads = 0;
}

static void handle_result(struct job *jb);

static void dispatch(struct job *jb)
{
    struct hinst *hi = jb->hi;
    hi->pending++;
    if (hi->nthreads > 0) {
        jb->next = NULL;
        pthread_mutex_lock(&hi->q_mu);
        if (hi->q_tail) {
            hi->q_tail->next = jb;
        }
        else {
            hi->q_head = jb;
        }
        hi->q_tail = jb;
        pthread_cond_signal(&hi->q_cv);
        pthread_mutex_unlock(&hi->q_mu);
        return;
    }
    /* Workers 0: on the engine thread, the one that ran Init */
    jb->ret = run_flush(jb);
    handle_result(jb);
}

static void task_release(struct task *t)
{
    if (--t->users == 0) {
        tasks[t->id] = NULL;
        free(t);
    }
}

static void job_done(struct job *jb)
{
    jb->hi->pending--;
    task_release(jb->task);
    free(jb);
}

static void handle_result(struct job *jb)
{
    struct hinst *hi = jb->hi;
    struct flb_output_instance *ins = hi->ins;
    struct task *t = jb->task;
    int ret = jb->ret;

    if (ret != FLB_OK && ret != FLB_RETRY && ret != FLB_ERROR) {
        /* proxy_cb_flush: anything else is FLB_ERROR */
        pthread_mutex_lock(&stats_mu);
        hi->st->invalid++;
        pthread_mutex_unlock(&stats_mu);
        ret = FLB_ERROR;
    }
    if (ret == FLB_OK) {
        pthread_mutex_lock(&stats_mu);
        hi->st->ok++;
        pthread_mutex_unlock(&stats_mu);
        if (jb->attempts > 0) {
            hlog(FLB_LOG_INFO, "[engine] flush chunk '%s' succeeded at retry %d: "
                 "task_id=%d, input=%s > output=%s (out_id=%d)",
                 t->name, jb->attempts, t->id, input_name, flb_output_name(ins), ins->id);
        }
        job_done(jb);
        return;
    }
    if (ret == FLB_ERROR) {
        /* Fluent Bit logs nothing for FLB_ERROR */
        pthread_mutex_lock(&stats_mu);
        hi->st->errors++;
        pthread_mutex_unlock(&stats_mu);
        job_done(jb);
        return;
    }
    /* FLB_RETRY */
    pthread_mutex_lock(&stats_mu);
    hi->st->retried++;
    pthread_mutex_unlock(&stats_mu);
    if (ins->retry_limit == FLB_OUT_RETRY_NONE) {
        pthread_mutex_lock(&stats_mu);
        hi->st->dropped++;
        pthread_mutex_unlock(&stats_mu);
        hlog(FLB_LOG_INFO, "[engine] chunk '%s' is not retried (no retry config): "
             "task_id=%d, input=%s > output=%s (out_id=%d)",
             t->name, t->id, input_name, flb_output_name(ins), ins->id);
        job_done(jb);
        return;
    }
    if (ins->retry_limit >= 0 && jb->attempts >= ins->retry_limit) {
        pthread_mutex_lock(&stats_mu);
        hi->st->dropped++;
        pthread_mutex_unlock(&stats_mu);
        hlog(FLB_LOG_ERROR, "[engine] chunk '%s' cannot be retried: "
             "task_id=%d, input=%s > output=%s",
             t->name, t->id, input_name, flb_output_name(ins));
        job_done(jb);
        return;
    }
    if (is_shutting_down && !opt.profile->retry_at_stop) {
        /* 1.9's handle_output_event: a RETRY while shutting down is neither
         * retried nor released; its task stays running until the engine
         * stops (then abandoned: counted dropped) */
        hi->pending--;
        jb->due = INT64_MAX;
        jb->next = retries;
        retries = jb;
        return;
    }
    {
        long delay = opt.retry_wait_ms;
        int i;
        for (i = 0; i < jb->attempts && delay < opt.retry_cap_ms; i++) {
            delay *= 2;
        }
        if (delay > opt.retry_cap_ms) {
            delay = opt.retry_cap_ms;
        }
        if (is_shutting_down) {
            /* flb_sched_request_create(): 0 + 1 seconds while shutting down */
            delay = 1000;
        }
        jb->attempts++;
        jb->due = now_ms() + delay;
        hlog(FLB_LOG_WARN, "[engine] failed to flush chunk '%s', retry in %ld seconds: "
             "task_id=%d, input=%s > output=%s (out_id=%d)",
             t->name, (delay + 999) / 1000, t->id, input_name, flb_output_name(ins), ins->id);
        hi->pending--;     /* not in flight while it waits */
        jb->next = retries;
        retries = jb;
    }
}

/* the flushes the workers finished since the last call, oldest first */
static struct job *take_completed(void)
{
    struct job *list;
    pthread_mutex_lock(&eng_mu);
    list = done_head;
    done_head = done_tail = NULL;
    pthread_mutex_unlock(&eng_mu);
    return list;
}

static int handle_completions(void)
{
    struct job *list = take_completed();
    int n = 0;
    while (list) {
        struct job *jb = list;
        list = list->next;
        handle_result(jb);
        n++;
    }
    return n;
}

static int fire_due_retries(void)
{
    int64_t now = now_ms();
    struct job **pp = &retries;
    struct job *due = NULL;
    struct job **dt = &due;
    int n = 0;

    while (*pp) {
        struct job *jb = *pp;
        if (jb->due <= now) {
            *pp = jb->next;
            jb->next = NULL;
            *dt = jb;
            dt = &jb->next;
        }
        else {
            pp = &jb->next;
        }
    }
    /* oldest first */
    while (due) {
        struct job *jb = due;
        due = due->next;
        dispatch(jb);
        n++;
    }
    return n;
}

static int pending_total(void)
{
    int i;
    int n = 0;
    for (i = 0; i < ninsts; i++) {
        n += insts[i]->pending;
    }
    return n;
}

static void wait_engine(int64_t until)
{
    struct timespec ts;
    int64_t now = now_ms();
    int64_t wait = until - now;
    if (wait > 50) {
        wait = 50;
    }
    if (wait < 1) {
        wait = 1;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long) (wait % 1000) * 1000000L;
    ts.tv_sec += (time_t) (wait / 1000) + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&eng_mu);
    if (!done_head) {
        pthread_cond_timedwait(&eng_cv, &eng_mu, &ts);
    }
    pthread_mutex_unlock(&eng_mu);
}

static void drain_inflight(void)
{
    while (pending_total() > 0) {
        if (handle_completions() == 0) {
            wait_engine(now_ms() + 50);
        }
    }
}

static void abandon_retries(const char *why)
{
    while (retries) {
        struct job *jb = retries;
        retries = jb->next;
        pthread_mutex_lock(&stats_mu);
        jb->hi->st->dropped++;
        pthread_mutex_unlock(&stats_mu);
        hlog(FLB_LOG_WARN, "[flbhost] pending retry abandoned (%s): chunk '%s' task_id=%d > output=%s",
             why, jb->task->name, jb->task->id, flb_output_name(jb->hi->ins));
        jb->hi->pending++; /* job_done decrements */
        job_done(jb);
    }
}

static struct task *new_task(int src)
{
    struct task *t;
    struct timespec ts;
    int id;
    for (id = 0; id < (int) (sizeof(tasks) / sizeof(tasks[0])); id++) {
        if (!tasks[id]) {
            break;
        }
    }
    if (id == (int) (sizeof(tasks) / sizeof(tasks[0]))) {
        return NULL;
    }
    t = xmalloc(sizeof(*t));
    t->id = id;
    t->src = src;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(t->name, sizeof(t->name), "%d-%ld.%09ld.flb", (int) getpid(),
             (long) ts.tv_sec, ts.tv_nsec);
    tasks[id] = t;
    return t;
}

/* route one chunk to every matching instance; 0 when it could not start */
static int dispatch_chunk(int src)
{
    struct task *t;
    struct job **jobs;
    int n = 0;
    int i;
    const char *tag = chunks[src].tag;

    t = new_task(src);
    if (!t) {
        return 0; /* all task ids busy: wait */
    }
    jobs = xmalloc(sizeof(struct job *) * (size_t) (ninsts + 1));
    for (i = 0; i < ninsts; i++) {
        struct hinst *hi = insts[i];
        if (!hi->ins->match || !match_tag(tag, (int) strlen(tag), hi->ins->match)) {
            continue;
        }
        if (opt.profile->def_fields > 5 && P->def->event_type != 0 &&
            !(P->def->event_type & FLB_OUTPUT_LOGS)) {
            continue;
        }
        jobs[n] = xmalloc(sizeof(struct job));
        jobs[n]->task = t;
        jobs[n]->hi = hi;
        n++;
    }
    if (n == 0) {
        hlog(FLB_LOG_DEBUG, "[task] created task=%p id=%d without routes, dropping.",
             (void *) t, t->id);
        tasks[t->id] = NULL;
        free(t);
        free(jobs);
        return 1;
    }
    t->users = n + 1; /* +1 while dispatching */
    for (i = 0; i < n; i++) {
        pthread_mutex_lock(&stats_mu);
        jobs[i]->hi->st->chunks++;
        pthread_mutex_unlock(&stats_mu);
        dispatch(jobs[i]);
    }
    task_release(t);
    free(jobs);
    return 1;
}

/* The process's peak resident memory (VmHWM). Not getrusage: its
 * ru_maxrss also counts the memory of the process that started this one,
 * shared until exec (a vfork). */
static void print_peak_memory(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) {
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) {
            break;
        }
    }
    fclose(f);
    if (kb >= 0) {
        printf("flbhost: peak_memory {\"vm_hwm_kb\":%ld}\n", kb);
    }
}

/* One pipeline's engine: Init, flushes without Workers and exits run on it,
 * as on Fluent Bit's engine thread. It ends by itself at the end of the
 * chunks or --max-runtime, else when flb_stop asks it to. */
static struct {
    pthread_t tid;
    atomic_int stop;          /* flb_engine_exit(): stop within grace */
    atomic_int hold;          /* dispatch no chunk: a --reload-after reload is on its way */
    atomic_int window;        /* the reload goes ahead: the engine flushes one more chunk
                               * as it stops (the chunk Fluent Bit flushes at stop) */
    long grace;               /* config->grace: -1 once a hot reload with thread safety began */
    int by_reload;            /* its exit is a hot reload's (FLBPluginOutputPreExit(1)) */
    const char *ended;        /* why it ended by itself, NULL when stopped */
} eng;

static int wake_pipe[2];      /* the engine tells the main thread it ended */
static long next_chunk;       /* chunks dispatched so far, over every pipeline */
static long total_chunks;
static int reload_sent;       /* --reload-after sent its SIGHUP */
static int64_t opt_start;     /* when the first pipeline started */
static int64_t run_deadline;  /* --max-runtime, 0 for none */

/* how many chunks the input produced by now: all at once, or one each
 * --chunk-interval */
static long ingested(void)
{
    long n;
    if (opt.chunk_interval_ms <= 0) {
        return total_chunks;
    }
    n = (long) ((now_ms() - opt_start) / opt.chunk_interval_ms) + 1;
    return n < total_chunks ? n : total_chunks;
}

/* ------------------------------------------------------------------ */
/* shutdown on a signal                                                */
/* ------------------------------------------------------------------ */

/* The engine's stop (flb_engine.c), after flb_stop() (SIGTERM, SIGINT,
 * SIGQUIT, or a hot reload replacing the pipeline). The engine sees it only
 * when it is free: with Workers 0 only once the flush it runs has returned.
 * Then it warns "service will shutdown in max G seconds", moves every
 * pending retry to now (2.0 and later), takes no new chunks, and checks once
 * a second, counted once however late the engine gets to it (a timerfd):
 * while tasks or chunks remain and fewer than G checks passed (or G is -1,
 * 2.0 and later) it goes on, else it logs "service has stopped (N pending
 * tasks)" and returns; flb_engine_shutdown -> flb_output_exit then joins
 * each instance's workers (waiting for a flush still running) before that
 * instance's exit hooks (exit_instances). A RETRY while shutting down is
 * retried after 1 s (2.0 and later) or left pending (1.9). */
static void shutdown_grace(long grace)
{
    int64_t next_check = now_ms() + 1000;
    int checks = 0;
    struct job *jb;
    long held;

    is_shutting_down = 1;
    if (atomic_exchange(&eng.window, 0) && next_chunk < total_chunks &&
        dispatch_chunk((int) (next_chunk % nchunks))) {
        next_chunk++;
    }
    /* inputs are paused: what they produced is still flushed, as
     * flb_engine_flush() does at each check */
    held = atomic_load(&eng.hold) ? next_chunk : ingested();
    if (grace >= 0 || !opt.profile->retry_at_stop) {
        hlog(FLB_LOG_WARN, "[engine] service will shutdown in max %u seconds", (unsigned) grace);
    }
    else {
        hlog(FLB_LOG_WARN, "[engine] service will shutdown when all remaining tasks are flushed");
    }
    if (opt.profile->retry_at_stop) {
        /* flb_engine_reschedule_retries */
        for (jb = retries; jb; jb = jb->next) {
            jb->due = now_ms();
        }
    }
    for (;;) {
        int progressed = handle_completions();
        int64_t now;

        progressed += fire_due_retries();
        if (next_chunk < held && dispatch_chunk((int) (next_chunk % nchunks))) {
            next_chunk++;
            progressed++;
        }
        now = now_ms();
        if (run_deadline && now >= run_deadline) {
            /* the host's own limit, not Fluent Bit's: a stop that would
             * go on (Grace -1) ends here too */
            hlog(FLB_LOG_WARN, "[flbhost] --max-runtime reached");
            eng.ended = "max-runtime";
            return;
        }
        if (now >= next_check) {
            int left = pending_total() + (int) (held - next_chunk);
            checks++;
            while (next_check <= now) {
                next_check += 1000;
            }
            for (jb = retries; jb; jb = jb->next) {
                left++;
            }
            /* 1.9: grace_count < grace, -1 included */
            if (left == 0 || ((grace >= 0 || !opt.profile->retry_at_stop) && checks >= grace)) {
                hlog(FLB_LOG_INFO, "[engine] service has stopped (%d pending tasks)", pending_total());
                return;
            }
        }
        if (!progressed) {
            wait_engine(next_check);
        }
    }
}

/* After the engine stopped, results of flushes that were still running are
 * counted as returned, and nothing is retried (Fluent Bit has no engine
 * left to do it). */
static void count_late_results(void)
{
    struct job *list = take_completed();
    while (list) {
        struct job *jb = list;
        list = list->next;
        pthread_mutex_lock(&stats_mu);
        if (jb->ret == FLB_OK) {
            jb->hi->st->ok++;
        }
        else if (jb->ret == FLB_RETRY) {
            jb->hi->st->retried++;
            jb->hi->st->dropped++;
        }
        else {
            jb->hi->st->errors++;
        }
        pthread_mutex_unlock(&stats_mu);
        job_done(jb);
    }
}

/* ------------------------------------------------------------------ */
/* init / exit                                                         */
/* ------------------------------------------------------------------ */

static void init_instances(void)
{
    int i;
    int ret;
    for (i = 0; i < ninsts; i++) {
        struct flb_output_instance *ins = insts[i]->ins;
        oauth2_property_check(ins);
        /* proxy_go_output_init: the shared struct points at this instance */
        P->plugin.api = P->api;
        P->plugin.o_ins = ins;
        P->plugin.context = ins->context;
        ret = P->plugin.cb_init(&P->plugin);
        if (ret <= 0) {
            hlog(FLB_LOG_ERROR, "[go proxy]: plugin '%s' failed to initialize", P->plugin.name);
            hlog(FLB_LOG_ERROR, "[output] could not initialize '%s' plugin", P->name);
            hlog(FLB_LOG_ERROR, "[output] failed to initialize '%s' plugin", P->name);
            hlog(FLB_LOG_ERROR, "[engine] output initialization failed");
            fflush(stdout);
            exit(255);
        }
        start_workers(insts[i]);
    }
    if (P->pre_run) {
        for (i = 0; i < ninsts; i++) {
            P->pre_run(hot_reload_enabled);
        }
    }
}

/* Fluent Bit 1.9's flb_output_exit() and flb_proxy_cb_exit(): every
 * instance's exit runs ExitCtx with the context of the instance initialised
 * LAST (go.c keeps one), and the first one destroys the proxy: Unregister,
 * dlclose. Later instances' exits would use the freed proxy. */
static void exit_instances_last_ctx(void)
{
    int i;
    for (i = 0; i < ninsts; i++) {
        stop_workers(insts[i]);
        if (!P->dso) {
            hlog(FLB_LOG_WARN, "[flbhost] %s: Fluent Bit %s would run the exit callback of "
                 "a destroyed proxy here (use after free); not emulated",
                 insts[i]->ins->name, opt.profile->release);
            continue;
        }
        if (P->plugin.cb_exit_ctx) {
            P->plugin.cb_exit_ctx(P->plugin.context->remote_context);
        }
        else if (P->plugin.cb_exit) {
            P->plugin.cb_exit();
        }
        plugin_unregister_and_close();
    }
}

static void exit_instances(int by_reload)
{
    int i;
    if (opt.profile->exit_last_ctx) {
        exit_instances_last_ctx();
    }
    for (i = 0; i < ninsts && !opt.profile->exit_last_ctx; i++) {
        struct hinst *hi = insts[i];
        stop_workers(hi);
        if (P->pre_exit) {
            P->pre_exit(by_reload);
        }
        if (P->plugin.cb_exit_ctx) {
            P->plugin.cb_exit_ctx(hi->ins->context->remote_context);
        }
        else if (P->plugin.cb_exit) {
            P->plugin.cb_exit();
        }
    }
    count_late_results();
    for (i = 0; i < ninsts; i++) {
        destroy_instance(insts[i]);
    }
    free(insts);
    insts = NULL;
    ninsts = 0;
    hostlog_config_exit();
}

/* ------------------------------------------------------------------ */
/* the engine thread (flb_start / flb_stop)                            */
/* ------------------------------------------------------------------ */

static void *engine_main(void *arg)
{
    char b = 1;
    (void) arg;

    hostlog_engine_start();
    create_instances();
    init_instances();
    for (;;) {
        int64_t until;
        int progressed = handle_completions();

        if (atomic_load(&eng.stop)) {
            shutdown_grace(eng.grace);
            break;
        }
        if (run_deadline && now_ms() >= run_deadline) {
            hlog(FLB_LOG_WARN, "[flbhost] --max-runtime reached");
            eng.ended = "max-runtime";
            break;
        }
        progressed += fire_due_retries();
        if (opt.reload_after > 0 && !reload_sent && next_chunk >= opt.reload_after) {
            /* as `curl -X POST /api/v2/reload` does: a SIGHUP to itself; no
             * chunk comes in until the reload is over (or failed), but the
             * window chunk */
            reload_sent = 1;
            atomic_store(&eng.hold, 1);
            kill(getpid(), SIGHUP);
        }
        if (next_chunk < ingested() && !atomic_load(&eng.hold)) {
            if (dispatch_chunk((int) (next_chunk % nchunks))) {
                next_chunk++;
                continue;
            }
        }
        if (next_chunk >= total_chunks && pending_total() == 0 && !retries && !atomic_load(&eng.hold)) {
            eng.ended = "shutdown";
            break;
        }
        until = now_ms() + 50;
        {
            struct job *jb;
            for (jb = retries; jb; jb = jb->next) {
                if (jb->due < until) {
                    until = jb->due;
                }
            }
        }
        if (!progressed) {
            wait_engine(until);
        }
    }
    if (eng.ended) {
        drain_inflight();
    }
    if (retries) {
        abandon_retries(eng.ended ? eng.ended : (eng.by_reload ? "hot reload" : "signal"));
    }
    exit_instances(eng.by_reload);
    is_shutting_down = 0;
    if (write(wake_pipe[1], &b, 1) < 0) {
        die(1, "[flbhost] cannot wake the main thread: %s", strerror(errno));
    }
    return NULL;
}

/* flb_start(): the pipeline's engine thread */
static void engine_start(long grace)
{
    atomic_store(&eng.stop, 0);
    atomic_store(&eng.hold, 0);
    atomic_store(&eng.window, 0);
    eng.grace = grace;
    eng.by_reload = 0;
    eng.ended = NULL;
    if (pthread_create(&eng.tid, NULL, engine_main, NULL) != 0) {
        die(1, "[flbhost] cannot start the engine thread");
    }
}

/* flb_stop(): tell the engine to stop, wait for it */
static void engine_stop(int by_reload)
{
    char b;
    eng.by_reload = by_reload;
    atomic_store(&eng.stop, 1);
    pthread_mutex_lock(&eng_mu);
    pthread_cond_broadcast(&eng_cv);
    pthread_mutex_unlock(&eng_mu);
    pthread_join(eng.tid, NULL);
    while (read(wake_pipe[0], &b, 1) < 0 && errno == EINTR) {
    }
}

/* ------------------------------------------------------------------ */
/* signals (fluent-bit.c)                                              */
/* ------------------------------------------------------------------ */

static void flb_signal_init(void);

static void flb_signal_handler_break_loop(int sig)
{
    exit_signal = sig;
}

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGHUP: return "SIGHUP";
    case SIGCONT: return "SIGCONT";
    case SIGTERM: return "SIGTERM";
    case SIGSEGV: return "SIGSEGV";
    case SIGFPE: return "SIGFPE";
    }
    return "?";
}

/* "[engine] caught signal (SIG...)", written as fluent-bit.c writes it */
static void signal_line(int sig)
{
    char buf[128];
    time_t now = time(NULL);
    struct tm tm;
    int n;
    localtime_r(&now, &tm);
    n = snprintf(buf, sizeof(buf), "[%d/%02d/%02d %02d:%02d:%02d] [engine] caught signal (%s)\n",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 signal_name(sig));
    if (write(STDERR_FILENO, buf, (size_t) n) < 0) {
        return;
    }
}

/* flb_signal_handler: from 2.1 it installs every handler anew with
 * signal() first, which replaces whatever a plugin put in front of them */
static void flb_signal_handler(int sig)
{
    signal_line(sig);
    if (opt.profile->signal_reinit) {
        flb_signal_init();
    }
    switch (sig) {
    case SIGSEGV:
    case SIGFPE:
        abort();
    case SIGCONT:
        dump_requested = 1;
        break;
    case SIGHUP:
        if (!reload_requested) {
            reload_requested = 1;
        }
        else {
            hlog(FLB_LOG_ERROR, "reloading in progress, aborting.");
        }
        break;
    }
}

/* flb_signal_init: SIGHUP stops 1.9 and 2.0, and asks for a hot reload from
 * 2.1 */
static void flb_signal_init(void)
{
    signal(SIGINT, flb_signal_handler_break_loop);
    signal(SIGQUIT, flb_signal_handler_break_loop);
    signal(SIGHUP, opt.profile->signal_reinit ? flb_signal_handler : flb_signal_handler_break_loop);
    signal(SIGCONT, flb_signal_handler);
    signal(SIGTERM, flb_signal_handler_break_loop);
    signal(SIGSEGV, flb_signal_handler);
    signal(SIGFPE, flb_signal_handler);
}

/* flbhost: signals {...}: who handles each signal now: "fluent-bit" (the
 * host's own handlers, as flb_signal_init installed them), "default",
 * "ignore" or "other" (a plugin's, or Go's), and whether on the signal stack */
static void print_signals(void)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCONT, SIGSEGV, SIGFPE};
    size_t i;
    printf("flbhost: signals {");
    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        struct sigaction sa;
        const char *who = "other";
        sigaction(sigs[i], NULL, &sa);
        if (!(sa.sa_flags & SA_SIGINFO)) {
            if (sa.sa_handler == SIG_DFL) {
                who = "default";
            }
            else if (sa.sa_handler == SIG_IGN) {
                who = "ignore";
            }
            else if (sa.sa_handler == flb_signal_handler || sa.sa_handler == flb_signal_handler_break_loop) {
                who = "fluent-bit";
            }
        }
        printf("%s\"%s\":{\"handler\":\"%s\",\"onstack\":%s}", i ? "," : "", signal_name(sigs[i]), who,
               (sa.sa_flags & SA_ONSTACK) ? "true" : "false");
    }
    printf("}\n");
    fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* hot reload (flb_reload, 2.1 to 5.1)                                 */
/* ------------------------------------------------------------------ */

static struct config cli_cfg;       /* what the command line set up, before -c */

/* [SERVICE] Grace (flb_config.c: 5 when unset); Fluent Bit has no command
 * line option for it */
static long service_grace(struct config *c)
{
    const char *gr = kv_get(&c->service, "grace");
    char *t;
    long g;
    if (!gr) {
        return 5;
    }
    t = env_translate(gr);
    g = atol(t);
    free(t);
    return g;
}
static const char *config_file;

/* the checks flb_config_load_config_format() makes of the new outputs,
 * those the host dies of at start: 0 when they pass */
static int check_outputs(struct config *c, struct proxy *p)
{
    int i;
    int j;
    for (i = 0; i < c->nouts; i++) {
        struct outdef *o = &c->outs[i];
        char *name;
        int ours;
        if (!o->name) {
            hlog(FLB_LOG_ERROR, "[config] %s: [OUTPUT] without Name", o->origin);
            return -1;
        }
        name = env_translate(o->name);
        ours = name_matches(p->name, name) && !builtin_named(name);
        free(name);
        for (j = 0; j < o->props.n; j++) {
            const char *k = o->props.v[j].key;
            char *v = env_translate(o->props.v[j].val);
            int bad = 0;
            if (strcasecmp(k, "log_level") == 0 && v && *v && parse_log_level(v) < 0) {
                hlog(FLB_LOG_ERROR, "[config] could not set property 'log_level' to '%s'", v);
                bad = 1;
            }
            else if (ours && strcasecmp(k, "tls") == 0 && v && *v && parse_bool(v) &&
                     !(p->def->flags & (FLB_IO_TLS | FLB_IO_OPT_TLS))) {
                hlog(FLB_LOG_ERROR, "[config] %s does not support TLS", p->name);
                bad = 1;
            }
            free(v);
            if (bad) {
                return -1;
            }
        }
    }
    return 0;
}

/* flb_reload(): on the main thread, while the old pipeline runs. With
 * Hot_Reload.Ensure_Thread_Safety (on by default) the old pipeline's grace
 * becomes -1 at once, for good, even if the reload then fails. The config
 * file is read again: a file that does not parse halts the reload before
 * anything else; then the plugin is registered again for the new pipeline
 * (PreRegister(1)); then the new outputs are checked, and when they fail
 * that new registration is destroyed (FLBPluginUnregister) while the old
 * pipeline goes on. Else the old pipeline stops (its engine, with its
 * grace, PreExit(1) and its exits), its proxy is destroyed, and the new
 * one starts. Returns 0 when it reloaded. */
static int hot_reload(void)
{
    struct config ncfg;
    struct proxy *np;
    int i;

    if (!hot_reload_enabled) {
        hlog(FLB_LOG_WARN, "[reload] hot reloading is not enabled");
        return -1;
    }
    if (ensure_thread_safety) {
        eng.grace = -1;
    }
    hlog(FLB_LOG_INFO, "reloading instance pid=%d (flbhost)", (int) getpid());
    atomic_store(&shutdown_by_hot_reloading, 1);
    hot_reloading = 1;

    ncfg = cli_cfg;
    ncfg.outs = xmalloc(sizeof(struct outdef) * (size_t) (cli_cfg.nouts + 1));
    for (i = 0; i < cli_cfg.nouts; i++) {
        ncfg.outs[i] = cli_cfg.outs[i];
    }
    if (config_file && config_load(&ncfg, config_file) != 0) {
        hlog(FLB_LOG_ERROR, "[reload] the configuration %s cannot be read. Reloading is halted", config_file);
        hot_reloading = 0;
        if (!opt.profile->reload_refuses_flush) {
            atomic_store(&shutdown_by_hot_reloading, 0);
        }
        return -1;
    }

    load_support_libs();
    np = plugin_load_and_register(1);
    if (check_outputs(&ncfg, np) != 0) {
        /* flb_destroy(new_ctx): the new registration goes, the old runs on */
        hlog(FLB_LOG_ERROR, "[reload] reloaded config format is invalid. Reloading is halted");
        proxy_destroy(np);
        free(np);
        hot_reloading = 0;
        if (!opt.profile->reload_refuses_flush) {
            /* 2.2.3 leaves shutdown_by_hot_reloading set: its proxy refuses
             * every later flush */
            atomic_store(&shutdown_by_hot_reloading, 0);
        }
        return -1;
    }

    hlog(FLB_LOG_INFO, "[reload] stop everything of the old context");
    atomic_store(&eng.window, atomic_load(&eng.hold));
    engine_stop(1);
    proxy_destroy(P);
    atomic_store(&shutdown_by_hot_reloading, 0);
    generation++;
    printf("flbhost: reloaded\n");
    fflush(stdout);
    hlog(FLB_LOG_INFO, "[reload] start everything");
    P = np;
    cfg = ncfg;
    opt.grace = service_grace(&cfg);
    engine_start(opt.grace);
    hot_reloading = 0;
    return 0;
}

/* ------------------------------------------------------------------ */
/* chunk files                                                         */
/* ------------------------------------------------------------------ */

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0;
    size_t n = 0;
    size_t r;
    if (!f) {
        die(1, "[flbhost] cannot open %s: %s", path, strerror(errno));
    }
    do {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            buf = xrealloc(buf, cap);
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
    } while (r > 0);
    fclose(f);
    *len = n;
    return buf;
}

static void add_chunk(unsigned char *data, size_t size, const char *tag)
{
    chunks = xrealloc(chunks, sizeof(struct chunk_src) * (size_t) (nchunks + 1));
    chunks[nchunks].data = data;
    chunks[nchunks].size = size;
    chunks[nchunks].tag = xstrdup(tag);
    nchunks++;
}

static void load_chunk_file(const char *path, int framed, const char *tag)
{
    size_t len;
    unsigned char *buf = slurp(path, &len);
    size_t off = 0;
    if (!framed) {
        add_chunk(buf, len, tag);
        return;
    }
    while (off < len) {
        uint32_t n;
        unsigned char *c;
        if (len - off < 4) {
            die(1, "[flbhost] %s: truncated frame header at offset %zu", path, off);
        }
        n = ((uint32_t) buf[off] << 24) | ((uint32_t) buf[off + 1] << 16) |
            ((uint32_t) buf[off + 2] << 8) | (uint32_t) buf[off + 3];
        off += 4;
        if (n > len - off) {
            die(1, "[flbhost] %s: frame of %u bytes at offset %zu overruns the file",
                path, n, off - 4);
        }
        c = xmalloc(n ? n : 1);
        memcpy(c, buf + off, n);
        add_chunk(c, n, tag);
        off += n;
    }
    free(buf);
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
"usage: flbhost [options]\n"
"  -e PATH               plugin library (also: [SERVICE] plugins_file, YAML plugins:)\n"
"  -c, --config FILE     Fluent Bit config (classic, or YAML if .yaml/.yml)\n"
"  -o NAME[://H:P/PATH]  add an output instance (ids count from 0 in order)\n"
"  -p KEY=VALUE          property for the last -o\n"
"  -m MATCH              Match for the last -o\n"
"  -t TAG                tag for the following -i/-I (default: first [INPUT] Tag, else 'test')\n"
"  -i FILE               one chunk: raw msgpack file\n"
"  -I FILE               several chunks: 4-byte big-endian length + bytes, repeated\n"
"  -n N                  send the whole chunk list N times\n"
"  --log-level LEVEL     service log level (as [SERVICE] Log_Level)\n"
"  --retry-wait MS       first retry delay (default 1000), doubled per retry\n"
"  --retry-cap MS        retry delay cap (default 2000000)\n"
"  --max-runtime SEC     stop after SEC seconds; pending retries count as dropped\n"
"  --reload-after K      hot reload after K chunks were dispatched\n"
"  --chunk-interval MS   the input produces a chunk every MS (default: all at once)\n"
"  --host-field-pad N    move the instance's flb_net_host N bytes (multiple of 8)\n"
"  --hide-symbols        do not export flb_output_net_default & co\n"
"  --builtin NAME        pretend Fluent Bit has a built-in output NAME (out_NAME_plugin)\n"
"  --flb-version V       behave as Fluent Bit V: 1.9, 2.0, 2.2, 3.2, 4.0, 5.1 (default)\n"
"  --no-metrics          a Fluent Bit built without FLB_HAVE_METRICS (2.0 and later)\n"
"  --worker-key          a Fluent Bit built without FLB_HAVE_C_TLS: flb_worker_ctx\n"
"                        is a pthread key (2.0 and later)\n");
}

/* helper libraries are looked up next to the executable */
static void set_exe_dir(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    char *slash;
    if (n <= 0) {
        exe_dir = xstrdup("./");
        return;
    }
    buf[n] = '\0';
    slash = strrchr(buf, '/');
    slash[1] = '\0';
    exe_dir = xstrdup(buf);
}

int main(int argc, char **argv)
{
    enum { O_RETRY_WAIT = 1000, O_RETRY_CAP, O_MAX_RUNTIME, O_RELOAD_AFTER,
           O_PAD, O_HIDE, O_BUILTIN, O_LOG_LEVEL, O_HELP, O_FLB_VERSION, O_NO_METRICS,
           O_WORKER_KEY, O_CHUNK_INTERVAL };
    static struct option lopts[] = {
        {"retry-wait", required_argument, 0, O_RETRY_WAIT},
        {"retry-cap", required_argument, 0, O_RETRY_CAP},
        {"max-runtime", required_argument, 0, O_MAX_RUNTIME},
        {"reload-after", required_argument, 0, O_RELOAD_AFTER},
        {"chunk-interval", required_argument, 0, O_CHUNK_INTERVAL},
        {"host-field-pad", required_argument, 0, O_PAD},
        {"hide-symbols", no_argument, 0, O_HIDE},
        {"builtin", required_argument, 0, O_BUILTIN},
        {"log-level", required_argument, 0, O_LOG_LEVEL},
        {"flb-version", required_argument, 0, O_FLB_VERSION},
        {"no-metrics", no_argument, 0, O_NO_METRICS},
        {"worker-key", no_argument, 0, O_WORKER_KEY},
        {"help", no_argument, 0, O_HELP},
        /* fluent-bit's own long form, abbreviations included (getopt_long) */
        {"config", required_argument, 0, 'c'},
        {0, 0, 0, 0}
    };
    struct outdef *last_out = NULL;
    const char *tag = NULL;
    struct { char *path; int framed; char *tag; } *files = NULL;
    int nfiles = 0;
    int c;
    int i;

    setvbuf(stdout, NULL, _IOLBF, 0);
    set_exe_dir();

    while ((c = getopt_long(argc, argv, "e:c:o:p:m:t:i:I:n:h", lopts, NULL)) != -1) {
        switch (c) {
        case 'e':
            opt.plugin_path = optarg;
            break;
        case 'c':
            config_file = optarg;
            break;
        case 'o': {
            char origin[64];
            snprintf(origin, sizeof(origin), "command line -o #%d", cfg.nouts);
            last_out = config_add_output(&cfg, optarg, origin);
            break;
        }
        case 'p': {
            char *eq = strchr(optarg, '=');
            if (!last_out) {
                die(1, "[flbhost] -p %s given before any -o", optarg);
            }
            if (!eq) {
                die(1, "[flbhost] -p needs KEY=VALUE, got '%s'", optarg);
            }
            /* a copy of the key: fluent-bit's set_property leaves argv
             * (and so /proc/self/cmdline) as it was */
            char *key = xstrndup(optarg, (size_t) (eq - optarg));
            kv_add(&last_out->props, key, eq + 1);
            free(key);
            break;
        }
        case 'm':
            if (!last_out) {
                die(1, "[flbhost] -m given before any -o");
            }
            kv_add(&last_out->props, "match", optarg);
            break;
        case 't':
            tag = optarg;
            break;
        case 'i':
        case 'I':
            files = xrealloc(files, sizeof(*files) * (size_t) (nfiles + 1));
            files[nfiles].path = optarg;
            files[nfiles].framed = (c == 'I');
            files[nfiles].tag = tag ? xstrdup(tag) : NULL;
            nfiles++;
            break;
        case 'n':
            opt.repeat = atol(optarg);
            if (opt.repeat < 1) {
                die(1, "[flbhost] -n must be >= 1");
            }
            break;
        case O_RETRY_WAIT:
            opt.retry_wait_ms = atol(optarg);
            break;
        case O_RETRY_CAP:
            opt.retry_cap_ms = atol(optarg);
            break;
        case O_MAX_RUNTIME:
            opt.max_runtime = atof(optarg);
            break;
        case O_RELOAD_AFTER:
            opt.reload_after = atol(optarg);
            break;
        case O_CHUNK_INTERVAL:
            opt.chunk_interval_ms = atol(optarg);
            break;
        case O_PAD:
            opt.host_pad = atol(optarg);
            if (opt.host_pad < 0 || opt.host_pad % 8 != 0 || opt.host_pad > 1 << 20) {
                die(1, "[flbhost] --host-field-pad must be a multiple of 8 in 0..1048576");
            }
            break;
        case O_HIDE:
            opt.hide_symbols = 1;
            break;
        case O_BUILTIN:
            opt.builtins = xrealloc(opt.builtins, sizeof(char *) * (size_t) (opt.nbuiltins + 1));
            opt.builtins[opt.nbuiltins++] = optarg;
            break;
        case O_LOG_LEVEL:
            opt.log_level = optarg;
            break;
        case O_FLB_VERSION:
            opt.profile = profile_find(optarg);
            if (!opt.profile) {
                die(1, "[flbhost] --flb-version %s: one of %s", optarg, profile_list());
            }
            break;
        case O_WORKER_KEY:
            opt.worker_key = 1;
            break;
        case O_NO_METRICS:
            opt.no_metrics = 1;
            break;
        case 'h':
        case O_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc) {
        usage(stderr);
        die(1, "[flbhost] unexpected argument '%s'", argv[optind]);
    }
    if (!opt.profile) {
        opt.profile = profile_find("5.1");
    }
    g_log_ms = opt.profile->log_ms;
    if (opt.retry_wait_ms < 1 || opt.retry_cap_ms < 1) {
        die(1, "[flbhost] --retry-wait and --retry-cap must be >= 1");
    }

    /* CLI outputs come first (fluent-bit creates them while parsing argv) */
    cli_cfg = cfg;
    cli_cfg.outs = xmalloc(sizeof(struct outdef) * (size_t) (cfg.nouts + 1));
    memcpy(cli_cfg.outs, cfg.outs, sizeof(struct outdef) * (size_t) cfg.nouts);
    if (config_file && config_load(&cfg, config_file) != 0) {
        die(1, "[flbhost] could not load configuration %s", config_file);
    }
    {
        const char *ll = kv_get(&cfg.service, "log_level");
        const char *pf = kv_get(&cfg.service, "plugins_file");
        const char *hr = kv_get(&cfg.service, "hot_reload");
        const char *ts = kv_get(&cfg.service, "hot_reload.ensure_thread_safety");
        opt.grace = service_grace(&cfg);
        if (ts && !parse_bool(ts)) {
            ensure_thread_safety = 0;
        }
        if (ll) {
            char *t = env_translate(ll);
            g_log_level = parse_log_level(t);
            if (g_log_level < 0) {
                die(1, "[config] invalid log_level '%s'", t);
            }
            free(t);
        }
        if (opt.log_level) {
            g_log_level = parse_log_level(opt.log_level);
            if (g_log_level < 0) {
                die(1, "[flbhost] invalid --log-level '%s'", opt.log_level);
            }
        }
        if (pf) {
            char *t = env_translate(pf);
            if (config_load_plugins_file(&cfg, t) != 0) {
                die(1, "[flbhost] could not load plugins_file %s", t);
            }
            free(t);
        }
        if (hr && parse_bool(hr)) {
            hot_reload_enabled = 1;
        }
    }
    if (opt.reload_after > 0) {
        hot_reload_enabled = 1;
    }
    if (hot_reload_enabled && !opt.profile->hot_reload) {
        die(1, "[flbhost] Fluent Bit %s has no hot reload (src/flb_reload.c came in 2.1)",
            opt.profile->release);
    }
    if (!opt.plugin_path) {
        if (cfg.nplugins == 0) {
            die(1, "[flbhost] no plugin: give -e PATH or a plugins_file / plugins: entry");
        }
        opt.plugin_path = cfg.plugins[0];
    }
    for (i = 0; i < cfg.nplugins; i++) {
        if (strcmp(cfg.plugins[i], opt.plugin_path) != 0) {
            die(1, "[flbhost] more than one plugin library (%s, %s): flbhost loads one",
                opt.plugin_path, cfg.plugins[i]);
        }
    }
    if (cfg.input_name) {
        static char in_name[256];
        snprintf(in_name, sizeof(in_name), "%s.0", cfg.input_name);
        input_name = in_name;
    }
    for (i = 0; i < nfiles; i++) {
        const char *t = files[i].tag;
        if (!t) {
            t = cfg.input_tag ? cfg.input_tag : (cfg.input_name ? input_name : "test");
        }
        load_chunk_file(files[i].path, files[i].framed, t);
    }

    /* fluent-bit.c's main installs its handlers before it loads plugins */
    flb_signal_init();
    if (pipe(wake_pipe) != 0) {
        die(1, "[flbhost] pipe: %s", strerror(errno));
    }

    host_offset = ((sizeof(struct flb_output_instance) + 7) & ~(size_t) 7) + 56 +
                  (size_t) opt.profile->host_pad + (size_t) opt.host_pad;
    flbhost_core_set_host_offset(host_offset);

    {
        const char *lf = kv_get(&cfg.service, "log_file");
        char *t = lf ? env_translate(lf) : NULL;
        hostlog_open(t);
        free(t);
    }
    load_support_libs();
    P = plugin_load_and_register(0);

    opt_start = now_ms();
    if (opt.max_runtime > 0) {
        run_deadline = opt_start + (int64_t) (opt.max_runtime * 1000.0);
    }
    total_chunks = (long) nchunks * opt.repeat;
    engine_start(opt.grace);

    /* fluent-bit.c's main loop: a signal ends its sleep at once */
    for (;;) {
        struct pollfd pfd = {wake_pipe[0], POLLIN, 0};
        int n = poll(&pfd, 1, 1000);
        if (exit_signal) {
            signal_line(exit_signal);
            engine_stop(0);
            break;
        }
        if (dump_requested) {
            dump_requested = 0;
            hlog(FLB_LOG_INFO, "[flbhost] SIGCONT: dump requested (not emulated)");
        }
        if (reload_requested) {
            /* a SIGHUP until flb_reload() returns is refused ("reloading in
             * progress"); FLB_RELOAD_HALTED: a second more */
            if (hot_reload() != 0) {
                /* the old pipeline goes on, its chunks too */
                atomic_store(&eng.hold, 0);
                sleep(1);
            }
            reload_requested = 0;
            print_signals();
            continue;
        }
        if (n > 0) {
            char b;
            while (read(wake_pipe[0], &b, 1) < 0 && errno == EINTR) {
            }
            pthread_join(eng.tid, NULL);
            break;
        }
    }
    plugin_unregister_and_close();
    print_signals();

    for (i = 0; i < nstats; i++) {
        struct stats *s = stats[i];
        char *ji = json_str(s->instance);
        char *jn = json_str(s->plugin);
        char *ja = json_str(s->alias);
        printf("flbhost: summary {\"instance\":%s,\"name\":%s,\"alias\":%s,\"chunks\":%ld,"
               "\"flushes\":%ld,\"ok\":%ld,\"retried\":%ld,\"dropped\":%ld,\"errors\":%ld,"
               "\"invalid\":%ld,\"max_inflight\":%d,\"workers\":%d}\n",
               ji, jn, ja, s->chunks, s->flushes, s->ok, s->retried, s->dropped, s->errors,
               s->invalid, s->max_inflight, s->workers);
        free(ji);
        free(jn);
        free(ja);
    }
    hostlog_print_totals();
    print_peak_memory();
    fflush(stdout);
    return 0;
}
