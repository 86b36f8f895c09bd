package main

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

// The full layouts of Fluent Bit's proxy structs (fluent-bit-go declares
// only their first fields): src/flb_plugin_proxy.c, src/proxy/go/go.c and
// include/fluent-bit/flb_api.h.
struct flbws_proxy_def {
	int type;
	int proxy;
	int flags;
	char *name;
	char *description;
	int event_type;
	void *config_map;
};

struct flbws_api {
	char *(*output_get_property)(char *, void *);
	void *input_get_property;
	void *output_get_cmt_instance;
	void *input_get_cmt_instance;
	void (*log_print)(int, const char *, int, const char *, ...);
	void *input_log_check;
	int (*output_log_check)(void *, int);
	void *custom_get_property;
	void *custom_log_check;
};

struct flbws_plugin {
	char *name;
	struct flbws_api *api;
	void *o_ins;
	void *context;
};

static void *flbws_api(void *plugin) { return ((struct flbws_plugin *) plugin)->api; }
static void *flbws_instance(void *plugin) { return ((struct flbws_plugin *) plugin)->o_ins; }

static void flbws_set_flags(void *def, int flags) { ((struct flbws_proxy_def *) def)->flags = flags; }

// log_print is variadic: Go cannot call it directly.
static void flbws_log(void *api, int level, const char *msg) {
	((struct flbws_api *) api)->log_print(level, NULL, 0, "%s", msg);
}

static int flbws_log_check(void *api, void *ins, int level) {
	return ((struct flbws_api *) api)->output_log_check(ins, level);
}

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
)

// builtinOutputExists tells whether the loading Fluent Bit has a built-in
// output of that name; it would be picked before any -e plugin.
func builtinOutputExists(name string) bool {
	sym := C.CString("out_" + name + "_plugin")
	defer C.free(unsafe.Pointer(sym))
	return C.flbws_symbol(sym) != nil
}

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

// flbLogger writes through Fluent Bit's own logger, so lines look like
// Fluent Bit's and honour the instance's Log_Level.
type flbLogger struct {
	api, ins unsafe.Pointer
	prefix   string
}

func newFLBLogger(plugin unsafe.Pointer, prefix string) *flbLogger {
	return &flbLogger{api: C.flbws_api(plugin), ins: C.flbws_instance(plugin), prefix: prefix}
}

func (l *flbLogger) print(level int, format string, args []any) {
	if C.flbws_log_check(l.api, l.ins, C.int(level)) == 0 {
		return
	}
	msg := C.CString(l.prefix + fmt.Sprintf(format, args...))
	C.flbws_log(l.api, C.int(level), msg)
	C.free(unsafe.Pointer(msg))
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
	var ep coreEndpoint
	ep.Port = int(*(*int32)(unsafe.Add(ins, off)))
	if ep.Port < 0 || ep.Port > 65535 {
		return coreEndpoint{Err: fmt.Errorf("port field holds %d, not a port", ep.Port)}
	}
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
