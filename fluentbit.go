package main

/*
#cgo LDFLAGS: -ldl
// RTLD_DEFAULT is a GNU extension in the dlfcn.h of glibc before 2.34,
// such as the 2.17 that the release artifacts are built against.
#cgo CFLAGS: -D_GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

// Fluent Bit's proxy structs, as far as every version from 1.9 has them
// (fluent-bit-go declares only their first fields): src/flb_plugin_proxy.c,
// src/proxy/go/go.c and include/fluent-bit/flb_api.h. The definition has
// two more fields from 5.0 (event_type, config_map), never touched here.
struct flbws_proxy_def {
	int type;
	int proxy;
	int flags;
	char *name;
	char *description;
};

// struct flb_api of Fluent Bit 2.0 to 3.x. In 1.9 it ends after
// output_get_property; 4.0 adds two fields after output_log_check. A field
// is read only once the running binary showed it has it (hasLogAPI).
struct flbws_api {
	char *(*output_get_property)(char *, void *);
	void *input_get_property;
	void *output_get_cmt_instance;
	void *input_get_cmt_instance;
	void (*log_print)(int, const char *, int, const char *, ...);
	void *input_log_check;
	int (*output_log_check)(void *, int);
};

struct flbws_plugin {
	char *name;
	struct flbws_api *api;
	void *o_ins;
	void *context;
};

// struct flb_plugin_proxy_context and struct flb_plugin_proxy begin so in
// every release from 1.9 (include/fluent-bit/flb_plugin_proxy.h).
struct flbws_proxy {
	void *def;
};

struct flbws_proxy_context {
	void *remote_context;
	struct flbws_proxy *proxy;
};

static void *flbws_api(void *plugin) { return ((struct flbws_plugin *) plugin)->api; }

// flbws_def is the def the plugin was registered with for the pipeline of
// the instance being initialised.
static void *flbws_def(void *plugin) {
	struct flbws_proxy_context *ctx = ((struct flbws_plugin *) plugin)->context;
	return ctx && ctx->proxy ? ctx->proxy->def : NULL;
}
static void *flbws_instance(void *plugin) { return ((struct flbws_plugin *) plugin)->o_ins; }

static void flbws_set_flags(void *def, int flags) { ((struct flbws_proxy_def *) def)->flags = flags; }

// log_print is variadic: Go cannot call it directly.
static void flbws_log(void *api, int level, const char *msg) {
	((struct flbws_api *) api)->log_print(level, NULL, 0, "%s", msg);
}

static int flbws_log_check(void *api, void *ins, int level) {
	return ((struct flbws_api *) api)->output_log_check(ins, level);
}

// flb_log_print, found with dlsym: where the api has no log_print (1.9), or
// no instance exists yet.
static void flbws_core_log(void *fn, int level, const char *msg) {
	((void (*)(int, const char *, int, const char *, ...)) fn)(level, NULL, 0, "%s", msg);
}

// The service's log level in 1.9: flb_worker_log_level(flb_worker_get())
// on a Fluent Bit thread, -1 elsewhere.
static int flbws_worker_log_level(void *get, void *level) {
	void *w = ((void *(*)(void)) get)();
	return w ? ((int (*)(void *)) level)(w) : -1;
}

// How this Fluent Bit keeps flb_worker_ctx (include/fluent-bit/flb_thread_storage.h):
// a __thread variable (FLB_HAVE_C_TLS, every Linux build), whose dlsym
// address is the calling thread's own slot, or a pthread key.
enum { flbws_worker_none, flbws_worker_tls, flbws_worker_key };

// flbws_worker_probe, on a Fluent Bit thread, reads the thread's worker
// and tells how flb_worker_ctx holds it.
static int flbws_worker_probe(void *get, void **worker) {
	void *w = ((void *(*)(void)) get)();
	void *sym = dlsym(RTLD_DEFAULT, "flb_worker_ctx");
	*worker = w;
	if (!w || !sym) {
		return flbws_worker_none;
	}
	// The key first: it reads 4 bytes, which either kind has.
	if (pthread_getspecific(*(pthread_key_t *) sym) == w) {
		return flbws_worker_key;
	}
	if (*(void **) sym == w) {
		return flbws_worker_tls;
	}
	return flbws_worker_none;
}

// flbws_relay_print prints msg through flb_log_print as a thread whose
// worker is w (NULL: none). slot is dlsym's flb_worker_ctx looked up on
// this very thread.
static void flbws_relay_print(int kind, void *slot, void *w, void *fn, int level, const char *msg) {
	if (kind == flbws_worker_tls) {
		*(void **) slot = w;
	} else {
		pthread_setspecific(*(pthread_key_t *) slot, w);
	}
	((void (*)(int, const char *, int, const char *, ...)) fn)(level, NULL, 0, "%s", msg);
}

static void *flbws_worker_get(void *get) { return ((void *(*)(void)) get)(); }

static void *flbws_symbol(const char *name) { return dlsym(RTLD_DEFAULT, name); }

static const char *flbws_output_name(void *fn, void *ins) {
	return ((const char *(*)(void *)) fn)(ins);
}

static void flbws_net_default(void *fn, const char *host, int port, void *ins) {
	((void (*)(const char *, int, void *)) fn)(host, port, ins);
}

static void flbws_sds_destroy(void *fn, void *s) { ((void (*)(void *)) fn)(s); }
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// flbOutputNet is FLB_OUTPUT_NET: it makes the core parse `-o name://host:port/path`.
const flbOutputNet = 32

// Fluent Bit's log levels.
const (
	levelError = 1
	levelWarn  = 2
	levelInfo  = 3
	levelDebug = 4
	levelTrace = 5
)

// builtinOutputExists tells whether the loading Fluent Bit has a built-in
// output of that name; it would be picked before any -e plugin.
func builtinOutputExists(name string) bool {
	sym := C.CString("out_" + name + "_plugin")
	defer C.free(unsafe.Pointer(sym))
	return C.flbws_symbol(sym) != nil
}

// pluginAPI and pluginInstance are the api and the output instance of the
// instance being initialised.
func pluginAPI(plugin unsafe.Pointer) unsafe.Pointer { return C.flbws_api(plugin) }
func pluginInstance(plugin unsafe.Pointer) unsafe.Pointer {
	return unsafe.Pointer(C.flbws_instance(plugin))
}

// pluginDef is the def of the registration the instance being initialised
// belongs to: go.c hands each instance the proxy it was registered on.
func pluginDef(plugin unsafe.Pointer) unsafe.Pointer { return C.flbws_def(plugin) }

func setPluginFlags(def unsafe.Pointer, flags int) {
	C.flbws_set_flags(def, C.int(flags))
}

func symbol(name string) unsafe.Pointer {
	s := C.CString(name)
	defer C.free(unsafe.Pointer(s))
	return C.flbws_symbol(s)
}

// instanceName is Fluent Bit's name for the instance (`name.N` or the
// Alias); the core keeps Alias to itself, so only flb_output_name knows it.
func instanceName(plugin unsafe.Pointer) (string, bool) {
	fn := symbol("flb_output_name")
	ins := C.flbws_instance(plugin)
	if fn == nil || ins == nil {
		return "", false
	}
	name := C.flbws_output_name(fn, ins)
	if name == nil {
		return "", false
	}
	return C.GoString(name), true
}

// hasLogAPI tells whether the running Fluent Bit's api has log_print and
// output_log_check: the api gained them in 2.0 (include/fluent-bit/flb_api.h)
// together with the exported flb_output_log_check, and 1.9 has neither.
func hasLogAPI() bool { return symbol("flb_output_log_check") != nil }

// flbLogger writes through Fluent Bit's own logger, so lines look like
// Fluent Bit's, honour Log_Level and go where Fluent Bit's go, in order:
// from the thread Init ran on, or relayed (logrelay.go) as that thread
// from any other. Where the relay cannot work (no flb_worker_ctx
// exported) lines are printed from the calling thread: the api's
// log_print (2.0 on), else the exported flb_log_print.
type flbLogger struct {
	prefix string
	level  int            // the highest level printed, the instance's Log_Level read at Init
	api    unsafe.Pointer // its log_print prints lines not relayed; nil in 1.9
	sink   *logSink       // nil: not relayed
	get    unsafe.Pointer // flb_worker_get, with sink
	core   unsafe.Pointer // flb_log_print, with sink
	closed atomic.Bool
}

// newFLBLogger must run in FLBPluginInit, on Fluent Bit's thread: that is
// where the instance's worker and the log level can be read.
func newFLBLogger(plugin unsafe.Pointer, prefix string) *flbLogger {
	l := &flbLogger{prefix: prefix, level: logLevel(plugin)}
	if hasLogAPI() {
		l.api = C.flbws_api(plugin)
	}
	l.get, l.core = symbol("flb_worker_get"), symbol("flb_log_print")
	if l.get != nil && l.core != nil {
		l.sink = workerSink(l.get, l.core)
	}
	return l
}

// logLevel is the highest level the instance prints: output_log_check
// asked at Init (Log_Level does not change while an instance lives); in
// 1.9, which has none, the service's level.
func logLevel(plugin unsafe.Pointer) int {
	if hasLogAPI() {
		api, ins := C.flbws_api(plugin), C.flbws_instance(plugin)
		for level := levelTrace; level >= levelError; level-- {
			if C.flbws_log_check(api, ins, C.int(level)) != 0 {
				return level
			}
		}
		return 0
	}
	get, level := symbol("flb_worker_get"), symbol("flb_worker_log_level")
	if get != nil && level != nil {
		if lv := int(C.flbws_worker_log_level(get, level)); lv >= 0 {
			return lv
		}
	}
	return levelInfo
}

// coreRelay relays the lines of every instance; it starts with the first
// instance whose Init found its worker.
var (
	coreRelayOnce sync.Once
	coreRelay     *lineRelay
)

// workerSink is a way into the relay for an instance being initialised:
// nil where this Fluent Bit exports no flb_worker_ctx or Init runs on no
// Fluent Bit thread.
func workerSink(get, logPrint unsafe.Pointer) *logSink {
	var worker unsafe.Pointer
	kind := C.flbws_worker_probe(get, &worker)
	if kind == C.flbws_worker_none {
		return nil
	}
	coreRelayOnce.Do(func() {
		var slot unsafe.Pointer
		coreRelay = newLineRelay(func() { slot = symbol("flb_worker_ctx") }, func(worker unsafe.Pointer, level int, line string) {
			msg := C.CString(line)
			C.flbws_relay_print(kind, slot, worker, logPrint, C.int(level), msg)
			C.free(unsafe.Pointer(msg))
		})
	})
	return coreRelay.sink(worker)
}

// enabled reports whether a line of level would be printed.
func (l *flbLogger) enabled(level int) bool { return level <= l.level }

func (l *flbLogger) print(level int, format string, args []any) {
	if !l.enabled(level) {
		return
	}
	line := l.prefix + fmt.Sprintf(format, args...)
	if l.sink != nil && !l.closed.Load() {
		if C.flbws_worker_get(l.get) == l.sink.worker {
			l.sink.waitQueued()
			msg := C.CString(line)
			C.flbws_core_log(l.core, C.int(level), msg)
			C.free(unsafe.Pointer(msg))
			return
		}
		if l.sink.send(level, line) {
			return
		}
	}
	// Once closed the api may be freed: only the exported flb_log_print,
	// which needs no instance, is left.
	if l.api == nil || l.closed.Load() {
		stderrLogger{}.print(level, "%s", []any{line})
		return
	}
	msg := C.CString(line)
	C.flbws_log(l.api, C.int(level), msg)
	C.free(unsafe.Pointer(msg))
}

// Close runs in the instance's exit: lines logged so far are printed, and
// nothing later uses the instance's worker or api, which Fluent Bit frees
// after the exit.
func (l *flbLogger) Close() {
	l.closed.Store(true)
	if l.sink != nil {
		l.sink.close()
	}
}

// corePrint prints a line through the running Fluent Bit's exported
// flb_log_print (every release has it): its format, its Log_File. It
// reports false where there is none.
func corePrint(level int, line string) bool {
	fn := symbol("flb_log_print")
	if fn == nil {
		return false
	}
	msg := C.CString(line)
	C.flbws_core_log(fn, C.int(level), msg)
	C.free(unsafe.Pointer(msg))
	return true
}

func (l *flbLogger) Errorf(format string, args ...any) { l.print(levelError, format, args) }
func (l *flbLogger) Warnf(format string, args ...any)  { l.print(levelWarn, format, args) }
func (l *flbLogger) Infof(format string, args ...any)  { l.print(levelInfo, format, args) }
func (l *flbLogger) Debugf(format string, args ...any) { l.print(levelDebug, format, args) }

// scratchSize is larger than any Fluent Bit's output instance struct.
const scratchSize = 64 << 10

// probeHost and probePort are what flb_output_net_default writes into the
// scratch block; the port is unusual so that it is found nowhere else.
const (
	probeHost = "out-websocket-probe.invalid"
	probePort = 47913
)

// coreEndpoint reads Host, Port and the -o path from the instance's
// `struct flb_net_host`. Its offset differs between Fluent Bit versions, so
// the running Fluent Bit shows where it is: flb_output_net_default fills
// host.name and host.port of a zeroed scratch block, and the same offsets
// are then read in the real instance.
func readCoreEndpoint(plugin unsafe.Pointer) coreEndpoint {
	netDefault, sdsDestroy := symbol("flb_output_net_default"), symbol("flb_sds_destroy")
	if netDefault == nil || sdsDestroy == nil {
		return coreEndpoint{Err: errors.New("this Fluent Bit exports no flb_output_net_default or flb_sds_destroy")}
	}
	ins := C.flbws_instance(plugin)
	if ins == nil {
		return coreEndpoint{Err: errors.New("no output instance")}
	}

	scratch := C.calloc(1, scratchSize)
	defer C.free(scratch)
	host := C.CString(probeHost)
	defer C.free(unsafe.Pointer(host))
	C.flbws_net_default(netDefault, host, probePort, scratch)

	block := unsafe.Slice((*byte)(scratch), scratchSize)
	off, err := locateHostField(block, probePort)
	if err != nil {
		return coreEndpoint{Err: err}
	}
	probeName := *(*unsafe.Pointer)(unsafe.Add(scratch, off+hostNameAfterPort))
	name, err := readSDS(probeName)
	C.flbws_sds_destroy(sdsDestroy, probeName)
	if err != nil || name != probeHost {
		return coreEndpoint{Err: fmt.Errorf("flb_output_net_default wrote no host name where expected (%q, %v)", name, err)}
	}

	return readNetHost(ins, off)
}

// readNetHost reads the flb_net_host whose port field is at off in ins.
func readNetHost(ins unsafe.Pointer, off int) coreEndpoint {
	// The port is read as the core stored it (atoi of Port): a number out
	// of range is the user's to fix, and loadConfig says so.
	var ep coreEndpoint
	ep.Port = int(*(*int32)(unsafe.Add(ins, off)))
	if p := *(*unsafe.Pointer)(unsafe.Add(ins, off+hostNameAfterPort)); p != nil {
		name, err := readSDS(p)
		if err != nil {
			return coreEndpoint{Err: fmt.Errorf("host field: %w", err)}
		}
		ep.Host = name
	}
	if uri := *(*unsafe.Pointer)(unsafe.Add(ins, off+hostURIAfterPort)); uri != nil {
		if full := *(**C.char)(uri); full != nil {
			ep.Path = C.GoString(full)
		}
	}
	return ep
}

// maxHostLen bounds what is believed to be a host name.
const maxHostLen = 1024

// readSDS reads an flb_sds_t, checking its header (uint64 len, uint64
// alloc before the characters) against the string itself.
func readSDS(p unsafe.Pointer) (string, error) {
	hdr := (*[2]uint64)(unsafe.Add(p, -16))
	n, alloc := hdr[0], hdr[1]
	if n == 0 || n > maxHostLen || n > alloc {
		return "", fmt.Errorf("sds header says length %d, alloc %d", n, alloc)
	}
	if l := C.strnlen((*C.char)(p), C.size_t(n+1)); uint64(l) != n {
		return "", fmt.Errorf("sds header says length %d, string has %d", n, l)
	}
	return C.GoStringN((*C.char)(p), C.int(n)), nil
}
