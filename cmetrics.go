package main

/*
#include <stdlib.h>
#include <stdint.h>

// The api's output_get_cmt_instance (field 3): read only once the binary
// showed with flb_output_get_cmt_instance that it sets it.
struct flbws_api_cmt {
	void *output_get_property;
	void *input_get_property;
	void *(*output_get_cmt_instance)(void *);
};

static void *flbws_cmt_instance(void *api, void *ins) {
	return ((struct flbws_api_cmt *) api)->output_get_cmt_instance(ins);
}

// cmt_counter_create and cmt_gauge_create have the same signature, as have
// cmt_counter_set, cmt_counter_add, cmt_gauge_set and cmt_histogram_observe
// (lib/cmetrics/include/cmetrics/cmt_*.h, unchanged from 2.0 to 5.1).
static void *flbws_cmt_create(void *fn, void *cmt, char *sub, char *name, char *help, int n, char **keys) {
	return ((void *(*)(void *, char *, char *, char *, char *, int, char **)) fn)(cmt, "fluentbit", sub, name, help, n, keys);
}

// The buckets belong to the histogram once it exists (cmt_histogram.c).
static void *flbws_cmt_histogram_create(void *fn, void *buckets_fn, double *bounds, size_t nbounds,
		void *cmt, char *sub, char *name, char *help, int n, char **keys) {
	void *b = ((void *(*)(double *, size_t)) buckets_fn)(bounds, nbounds);
	if (!b) {
		return NULL;
	}
	return ((void *(*)(void *, char *, char *, char *, char *, void *, int, char **)) fn)(cmt, "fluentbit", sub, name, help, b, n, keys);
}

static const char *flbws_cmt_version(void *fn) { return ((const char *(*)(void)) fn)(); }

static int flbws_cmt_update(void *fn, void *metric, uint64_t ts, double v, int n, char **vals) {
	return ((int (*)(void *, uint64_t, double, int, char **)) fn)(metric, ts, v, n, vals);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// metricsSubsystem makes the names fluentbit_websocket_*, the way Fluent
// Bit's C outputs name theirs (fluentbit_<plugin>_<metric>).
const metricsSubsystem = "websocket"

// confirmBuckets are the bounds, in seconds, of the confirmation round-trip
// histogram: a LAN answers in a millisecond, a loaded server in seconds.
var confirmBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// cmtFuncs are the cmetrics functions the running Fluent Bit exports.
type cmtFuncs struct {
	counterCreate, counterSet, counterAdd, gaugeCreate, gaugeSet unsafe.Pointer
	bucketsCreate, histogramCreate, histogramObserve             unsafe.Pointer // nil: no histogram
}

func lookupCmt() (cmtFuncs, error) {
	var f cmtFuncs
	var missing []string
	need := func(p *unsafe.Pointer, name string) {
		if *p = symbol(name); *p == nil {
			missing = append(missing, name)
		}
	}
	for _, s := range []struct {
		p    *unsafe.Pointer
		name string
	}{
		{&f.counterCreate, "cmt_counter_create"}, {&f.counterSet, "cmt_counter_set"},
		{&f.counterAdd, "cmt_counter_add"}, {&f.gaugeCreate, "cmt_gauge_create"}, {&f.gaugeSet, "cmt_gauge_set"},
	} {
		need(s.p, s.name)
	}
	if len(missing) > 0 {
		return f, fmt.Errorf("this Fluent Bit exports no %s", strings.Join(missing, ", "))
	}
	f.bucketsCreate, f.histogramCreate = symbol("cmt_histogram_buckets_create_size"), symbol("cmt_histogram_create")
	f.histogramObserve = symbol("cmt_histogram_observe")
	if f.bucketsCreate == nil || f.histogramCreate == nil || f.histogramObserve == nil {
		f.histogramCreate = nil
	}
	return f, nil
}

// histogramsExported tells whether the running cmetrics copies a labelled
// histogram into Fluent Bit's metrics endpoint intact (cmtHistogramsIntact),
// and its version, from the exported cmt_version.
func histogramsExported() (bool, string) {
	fn := symbol("cmt_version")
	if fn == nil {
		return false, "unknown"
	}
	v := C.GoString(C.flbws_cmt_version(fn))
	return cmtHistogramsIntact(v), v
}

// cmtMetrics registers the plugin's metrics in the output instance's
// cmetrics context, the one Fluent Bit serves at /api/v2/metrics, each
// series labelled with the instance name, and the connection metrics
// (see cmtNodeMetrics) with the node too.
type cmtMetrics struct {
	fn cmtFuncs

	mu     sync.Mutex
	closed bool // the instance, and its cmetrics context, are going away

	instance  string
	name      **C.char         // label values {instance}
	cstrings  []unsafe.Pointer // C memory freed at Close
	conns     unsafe.Pointer   // gauge
	handshake unsafe.Pointer
	failed    unsafe.Pointer
	tokens    unsafe.Pointer
	tokenFail unsafe.Pointer
	lost      unsafe.Pointer
	messages  unsafe.Pointer
	bytes     unsafe.Pointer
	confirmed unsafe.Pointer
	rtt       unsafe.Pointer // histogram; nil without one
}

// cmtNodeMetrics counts one node's connections under the label values
// {instance, node}. Every instance has the label `node`, the host:port of
// its one endpoint without upstream: cmetrics fixes a metric's label
// names at creation, and Fluent Bit's endpoint merges the same metric of
// every instance by name (cmt_cat.c, 3.2.10 and 5.1.1), so they must not
// differ between instances.
type cmtNodeMetrics struct {
	*cmtMetrics
	labels **C.char            // {instance, node}
	lostBy map[string]**C.char // {instance, node, cause}
	open   int                 // under mu
}

// newCmtMetrics registers the metrics of the instance being initialised.
// A Fluent Bit without metrics (1.9, or built without them) gives an error
// that says what is missing; the plugin then runs without.
func newCmtMetrics(plugin unsafe.Pointer, instance string) (*cmtMetrics, error) {
	if symbol("flb_output_get_cmt_instance") == nil {
		return nil, errors.New("this Fluent Bit has no metrics API for plugins (flb_output_get_cmt_instance)")
	}
	fn, err := lookupCmt()
	if err != nil {
		return nil, err
	}
	cmt := C.flbws_cmt_instance(pluginAPI(plugin), pluginInstance(plugin))
	if cmt == nil {
		return nil, errors.New("the output instance has no cmetrics context")
	}
	m := &cmtMetrics{fn: fn, instance: instance}
	m.name = m.strings(instance)
	nameKey, nodeKeys, causeKeys := m.strings("name"), m.strings("name", "node"), m.strings("name", "node", "cause")

	counter := func(name, help string, keys **C.char, n int) unsafe.Pointer {
		if err != nil {
			return nil
		}
		c := C.flbws_cmt_create(fn.counterCreate, cmt, m.cstr(metricsSubsystem), m.cstr(name), m.cstr(help), C.int(n), keys)
		if c == nil {
			err = fmt.Errorf("cmt_counter_create failed for %s", name)
		}
		return c
	}
	m.handshake = counter("handshakes_total", "WebSocket connections opened (handshake completed), by node.", nodeKeys, 2)
	m.failed = counter("connect_failures_total", "Failed attempts to open a WebSocket connection (TCP, proxy, TLS or handshake), by node.", nodeKeys, 2)
	m.tokens = counter("token_fetches_total", "OAuth2 access tokens fetched from the token endpoint, by node.", nodeKeys, 2)
	m.tokenFail = counter("token_fetch_failures_total", "Requests to the OAuth2 token endpoint that gave no token, by node.", nodeKeys, 2)
	m.lost = counter("connections_lost_total", "WebSocket connections lost, by node and cause: server_close, network_error, ping_timeout, idle_replaced, token_renewal.", causeKeys, 3)
	m.messages = counter("messages_total", "WebSocket messages sent.", nameKey, 1)
	m.bytes = counter("payload_bytes_total", "Payload bytes of the WebSocket messages sent, before framing and compression.", nameKey, 1)
	m.confirmed = counter("confirmations_total", "Chunks whose reading the server confirmed (the pong after them).", nameKey, 1)
	if err != nil {
		m.Close()
		return nil, err
	}
	m.conns = C.flbws_cmt_create(fn.gaugeCreate, cmt, m.cstr(metricsSubsystem), m.cstr("connections"), m.cstr("Open WebSocket connections, by node."), 2, nodeKeys)
	if m.conns == nil {
		m.Close()
		return nil, errors.New("cmt_gauge_create failed for connections")
	}
	if ok, _ := histogramsExported(); ok && fn.histogramCreate != nil {
		bounds := (*C.double)(C.malloc(C.size_t(len(confirmBuckets)) * C.size_t(unsafe.Sizeof(C.double(0)))))
		m.cstrings = append(m.cstrings, unsafe.Pointer(bounds))
		copy(unsafe.Slice((*float64)(unsafe.Pointer(bounds)), len(confirmBuckets)), confirmBuckets)
		m.rtt = C.flbws_cmt_histogram_create(fn.histogramCreate, fn.bucketsCreate, bounds, C.size_t(len(confirmBuckets)),
			cmt, m.cstr(metricsSubsystem), m.cstr("confirmation_seconds"),
			m.cstr("Seconds from the ping sent after a chunk to its pong: the server's confirmation round trip."), 1, nameKey)
	}

	// Every series exists from the start, at 0, as Fluent Bit's own do
	// (a node's from its Node).
	now := timestamp()
	for _, c := range []unsafe.Pointer{m.messages, m.bytes, m.confirmed} {
		C.flbws_cmt_update(fn.counterSet, c, now, 0, 1, m.name)
	}
	return m, nil
}

// Node makes the series of one node, at 0.
func (m *cmtMetrics) Node(node string) metricsSink {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := &cmtNodeMetrics{cmtMetrics: m, lostBy: map[string]**C.char{}}
	if m.closed {
		return n
	}
	n.labels = m.strings(m.instance, node)
	now := timestamp()
	for _, c := range []unsafe.Pointer{m.handshake, m.failed, m.tokens, m.tokenFail} {
		C.flbws_cmt_update(m.fn.counterSet, c, now, 0, 2, n.labels)
	}
	for _, cause := range lostCauses {
		n.lostBy[cause] = m.strings(m.instance, node, cause)
		C.flbws_cmt_update(m.fn.counterSet, m.lost, now, 0, 3, n.lostBy[cause])
	}
	C.flbws_cmt_update(m.fn.gaugeSet, m.conns, now, 0, 2, n.labels)
	return n
}

// pluginMetrics are the metrics of the instance being initialised, or
// none where this Fluent Bit cannot take them; an info line says what is
// left out.
func pluginMetrics(plugin unsafe.Pointer, instance string, log logger) instanceMetrics {
	m, err := newCmtMetrics(plugin, instance)
	if err != nil {
		log.Infof("running without metrics: %v", err)
		return noMetrics{}
	}
	if m.rtt == nil {
		_, version := histogramsExported()
		log.Infof("no confirmation round-trip histogram: this Fluent Bit's cmetrics (%s) has no histogram functions or exports histograms wrongly (before 0.7.3)", version)
	}
	return m
}

func timestamp() C.uint64_t { return C.uint64_t(time.Now().UnixNano()) }

func (m *cmtMetrics) cstr(s string) *C.char {
	p := C.CString(s)
	m.cstrings = append(m.cstrings, unsafe.Pointer(p))
	return p
}

// strings makes a C array of C strings, for label keys and values.
func (m *cmtMetrics) strings(ss ...string) **C.char {
	arr := (**C.char)(C.malloc(C.size_t(len(ss)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	m.cstrings = append(m.cstrings, unsafe.Pointer(arr))
	elems := unsafe.Slice(arr, len(ss))
	for i, s := range ss {
		elems[i] = m.cstr(s)
	}
	return arr
}

// update applies fn to a metric unless the instance is closing.
func (m *cmtMetrics) update(fn, metric unsafe.Pointer, v float64, labels **C.char, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed && metric != nil {
		C.flbws_cmt_update(fn, metric, timestamp(), C.double(v), C.int(n), labels)
	}
}

// setOpen moves the node's open-connections gauge by delta.
func (n *cmtNodeMetrics) setOpen(delta int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.open += delta
	if !n.closed {
		C.flbws_cmt_update(n.fn.gaugeSet, n.conns, timestamp(), C.double(n.open), 2, n.labels)
	}
}

func (n *cmtNodeMetrics) Handshake() {
	n.update(n.fn.counterAdd, n.handshake, 1, n.labels, 2)
	n.setOpen(1)
}

func (n *cmtNodeMetrics) ConnectFailed() { n.update(n.fn.counterAdd, n.failed, 1, n.labels, 2) }

func (n *cmtNodeMetrics) TokenFetched() { n.update(n.fn.counterAdd, n.tokens, 1, n.labels, 2) }

func (n *cmtNodeMetrics) TokenFetchFailed() { n.update(n.fn.counterAdd, n.tokenFail, 1, n.labels, 2) }

func (n *cmtNodeMetrics) Ended(cause error) {
	n.setOpen(-1)
	if c, lost := lossCause(cause); lost {
		n.update(n.fn.counterAdd, n.lost, 1, n.lostBy[c], 3)
	}
}

func (m *cmtMetrics) Sent(messages, bytes int) {
	if messages > 0 {
		m.update(m.fn.counterAdd, m.messages, float64(messages), m.name, 1)
		m.update(m.fn.counterAdd, m.bytes, float64(bytes), m.name, 1)
	}
}

func (m *cmtMetrics) Confirmed(rtt time.Duration) {
	m.update(m.fn.counterAdd, m.confirmed, 1, m.name, 1)
	m.update(m.fn.histogramObserve, m.rtt, rtt.Seconds(), m.name, 1)
}

// Close stops every update: Fluent Bit frees the instance's cmetrics
// context after the exit callback, while a connection's goroutines may
// still be ending.
func (m *cmtMetrics) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.closed = true
	for _, p := range m.cstrings {
		C.free(p)
	}
	m.cstrings = nil
}
