// Command out_websocket is a Fluent Bit output plugin, built as a shared
// object, that sends records to a WebSocket server. This file only
// translates between Fluent Bit's C calls and the plain Go of the package.
package main

import "C"

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"
)

// pluginName is the name an [OUTPUT] uses; `make PLUGIN_NAME=...` sets it.
// Not "websocket": Fluent Bit would pick its built-in of that name instead.
var pluginName = "websocket_go"

// pluginVersion names the build in the startup line, so that a bug report
// says which one ran; the Makefile sets it from `git describe`.
var pluginVersion = "dev"

const pluginDescription = "WebSocket output (RFC 6455, TLS, no data loss)"

// instanceCount names instances when this Fluent Bit cannot (no
// flb_output_name): <name>.<n> as Fluent Bit counts them.
var instanceCount atomic.Int64

// instanceSource reads the properties of the instance being initialised:
// those the core shows the plugin, and the oauth2.* keys, which Fluent
// Bit 5's core keeps, from its section as written.
type instanceSource struct {
	plugin  unsafe.Pointer
	written map[string]string // from instanceAsWritten; nil when not found
}

func (s instanceSource) Get(key string) string {
	if v := output.FLBPluginConfigKey(s.plugin, key); v != "" || !isOAuth2Key(key) {
		return v
	}
	return expandEnv(s.written[strings.ToLower(key)])
}

// Keys are the keys of the section as written.
func (s instanceSource) Keys() []string { return slices.Collect(maps.Keys(s.written)) }

//export FLBPluginPreRegister
func FLBPluginPreRegister(hotReloading C.int) int {
	life.preRegister(hotReloading != 0)
	return 0
}

//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) (ret int) {
	log := stderrLogger{prefix: fmt.Sprintf("[output:%s] ", pluginName)}
	defer recoverPanic(log, "FLBPluginRegister", &ret, -1)
	if builtinOutputExists(pluginName) {
		log.Warnf("this Fluent Bit has a built-in output named '%s': [OUTPUT] sections with 'Name %s' will use the built-in, not this plugin; build with 'make PLUGIN_NAME=websocket_go' (the default) and use that Name", pluginName, pluginName)
	}
	ret = output.FLBPluginRegister(def, pluginName, pluginDescription)
	setPluginFlags(def, flbOutputNet)
	life.register(def)
	return ret
}

//export FLBPluginInit
func FLBPluginInit(plugin unsafe.Pointer) (ret int) {
	id := instanceCount.Add(1) - 1
	name, ok := instanceName(plugin)
	if !ok {
		name = fmt.Sprintf("%s.%d", pluginName, id)
	}
	flbLog := newFLBLogger(plugin, fmt.Sprintf("[output:%s:%s] ", pluginName, name))
	defer func() {
		// Fluent Bit exits: nothing may print through its worker later.
		if ret != output.FLB_OK {
			flbLog.Close()
		}
	}()
	defer recoverPanic(flbLog, "FLBPluginInit", &ret, output.FLB_ERROR)
	watchSignals(flbLog)
	reg := life.registrationOf(pluginDef(plugin))
	reg.stop.setGrace(serviceGrace())

	confDir, err := mainConfigDir()
	if err != nil {
		flbLog.Warnf("%v: a relative Upstream path is read from the working directory only", err)
	}
	written := instanceAsWritten(name, pluginName)
	core := readCoreEndpoint(plugin)
	core.PortText, core.PortKnown = portAsWritten(written, core.Port)
	core.TLSKeys = tlsKeysAsWritten(written)
	cfg, err := loadConfig(instanceSource{plugin, written}, core, confDir)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			flbLog.Errorf("configuration: %s", line)
		}
		return output.FLB_ERROR
	}
	log := scrubbing(flbLog, cfg.Secrets)
	metrics := pluginMetrics(plugin, name, log)
	in, err := newInstance(cfg, log, metrics, reg.stop)
	if err != nil {
		metrics.Close()
		log.Errorf("configuration: %v", err)
		return output.FLB_ERROR
	}
	in.closeLog = flbLog.Close
	for _, w := range cfg.Warnings {
		log.Warnf("%s", w)
	}
	output.FLBPluginSetContext(plugin, in)
	life.add(reg, in)
	log.Infof("version=%s, %s", pluginVersion, cfg)
	return output.FLB_OK
}

//export FLBPluginFlushCtx
func FLBPluginFlushCtx(ctx, data unsafe.Pointer, length C.int, tag *C.char) (ret int) {
	in, ok := output.FLBPluginGetContext(ctx).(*instance)
	if !ok {
		// Never dropped on our own: Fluent Bit keeps the chunk for a retry.
		stderrLogger{prefix: fmt.Sprintf("[output:%s] ", pluginName)}.Errorf("flush for an instance that was never initialised; chunk left to Fluent Bit's retry")
		return output.FLB_RETRY
	}
	defer recoverPanic(in.log, "FLBPluginFlushCtx", &ret, output.FLB_RETRY)
	chunk := unsafe.Slice((*byte)(data), int(length))
	return in.flush(chunk, C.GoString(tag))
}

//export FLBPluginOutputPreExit
func FLBPluginOutputPreExit(shutdownByHotReload C.int) {}

//export FLBPluginExitCtx
func FLBPluginExitCtx(ctx unsafe.Pointer) (ret int) {
	in, ok := output.FLBPluginGetContext(ctx).(*instance)
	if !ok {
		return output.FLB_OK
	}
	defer recoverPanic(in.log, "FLBPluginExitCtx", &ret, output.FLB_ERROR)
	life.exit(in)
	return output.FLB_OK
}

// FLBPluginExit runs only in a Fluent Bit without ExitCtx; each instance's
// connections are closed by FLBPluginExitCtx.
//
//export FLBPluginExit
func FLBPluginExit() int {
	return output.FLB_OK
}

//export FLBPluginUnregister
func FLBPluginUnregister(def unsafe.Pointer) {
	defer recoverPanic(stderrLogger{}, "FLBPluginUnregister", new(int), 0)
	life.unregister(def)
	output.FLBPluginUnregister(def)
}

func main() {}
