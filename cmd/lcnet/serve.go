package main

import (
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lcnet/lcnet/api"
	"github.com/lcnet/lcnet/pull"
)

func (a *app) serveCmd() *cobra.Command {
	var (
		addr, store, apiKey, defaultModel, mirror, logFormat, decode string
		threads, maxBatch, queue, maxUploads                         int
		corsOrigins, allowedHosts                                    []string
		decodeBudget, maxDecode                                      int64
		writeTimeout, shutdownTimeout                                time.Duration
		pullOnDemand                                                 bool
		maxBody, maxUpload                                           int64
		batchWait, requestTimeout, refresh                           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the REST API and the demo page",
		Long: `Serve runs the HTTP API (/v1/models, /v1/models/NAME/classify, the KServe v2
/v2/models/NAME/infer protocol, /healthz, /readyz, /metrics, the OpenAPI
document at /openapi.json) and the demo page at /.

Models are loaded from the store on first use. With --pull, a request for a
model the zoo does not have but the pull catalog does ('lcnet pull --list')
downloads it first. Uploading (POST /v1/models) and deleting models need
--api-key when one is set; classifying does not. Prefer LCNET_API_KEY to the
flag: command lines are visible to every user of the machine (ps).

SIGTERM or Ctrl-C first turns /readyz to 503 and keeps serving for 0.2 s,
answering with Connection: close, so connections clients opened just
before the signal are served rather than reset; then it stops accepting
connections, lets requests in flight finish for up to --shutdown-timeout,
closes what is left, and exits 0.

Limits: images are refused (413) from their header when decoding one would
take more than --max-decode bytes, and wait for --decode-budget bytes
shared by all requests; responses must be written within --write-timeout
past the request deadline; --max-uploads uploads run at once (429 beyond).
State-changing requests from a browser page of another origin are refused
unless it is given with --cors-origin; bound to loopback, the server
answers only Host localhost, 127.0.0.1, [::1], its address or --allowed-host
(DNS rebinding). Logs are structured (slog) on stderr.

With GOMEMLIMIT set, the default --decode-budget is two fifths of it when
that is under 384 MiB. Preprocessing over 2048 pixels a side is refused.

These flags have environment variables: LCNET_ADDR, LCNET_STORE,
LCNET_API_KEY, LCNET_DEFAULT_MODEL, LCNET_PULL=1, LCNET_MIRROR, LCNET_THREADS,
LCNET_REFRESH_INTERVAL, LCNET_LOG_FORMAT, LCNET_SHUTDOWN_TIMEOUT, LCNET_DECODE,
LCNET_CORS_ORIGIN (comma-separated).`,
		Example: `  lcnet serve
  LCNET_API_KEY="$(cat key.txt)" lcnet serve --addr 0.0.0.0:8080 --store /var/lib/lcnet
  LCNET_PULL=1 lcnet serve --default-model PPLCNet_x1_0
  curl -F image=@cat.jpg http://127.0.0.1:8080/v1/models/PPLCNet_x1_0/classify`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			started := time.Now()
			ctx := cmd.Context()
			var handler slog.Handler
			switch logFormat {
			case "text":
				handler = slog.NewTextHandler(a.stderr, nil)
			case "json":
				handler = slog.NewJSONHandler(a.stderr, nil)
			default:
				return usagef("--log-format %q: want text or json", logFormat)
			}
			log := slog.New(handler)
			mode, err := parseDecode(decode)
			if err != nil {
				return err
			}
			if decodeBudget <= 0 {
				// GOMEMLIMIT, when set, is what the process must fit in.
				decodeBudget = api.DefaultDecodeBudget(debug.SetMemoryLimit(-1))
			}
			z, err := openZoo(ctx, store)
			if err != nil {
				return err
			}
			cfg := api.Config{
				Zoo:          z,
				APIKey:       apiKey,
				DefaultModel: defaultModel,
				Threads:      threads,
				Logger:       log,
				// Zero leaves the api's defaults.
				MaxBodyBytes:    maxBody,
				MaxUploadBytes:  maxUpload,
				MaxBatch:        maxBatch,
				BatchWait:       batchWait,
				QueueSize:       queue,
				RequestTimeout:  requestTimeout,
				ResolveTTL:      refresh,
				DecodeBudget:    decodeBudget,
				MaxDecodeBytes:  maxDecode,
				WriteTimeout:    writeTimeout,
				ShutdownTimeout: shutdownTimeout,
				MaxUploads:      maxUploads,
				CORSOrigins:     corsOrigins,
				AllowedHosts:    allowedHosts,
				TempDir:         jobsDir(store),
				Decode:          mode,
			}
			if pullOnDemand {
				cfg.Puller = pull.New(z, pull.Options{Mirror: mirror, CacheDir: downloadDir(store)})
			}
			// Weights that crashed uploads left behind without a manifest
			// are invisible but take space; an hour is far longer than any
			// create still running in another replica.
			if cleaned, err := z.Clean(ctx, time.Hour); err != nil {
				log.Warn("cleaning the zoo of crashed creates", "err", err)
			} else if len(cleaned) > 0 {
				log.Info("removed the weights of versions whose create never finished", "versions", cleaned)
			}
			// Uploads a killed server was converting are whole checkpoints;
			// those older than this process have no server left to finish
			// them.
			if n, err := api.CleanUploads(z.Store(), started); err != nil {
				log.Warn("cleaning uploads left by an earlier server", "err", err)
			} else if n > 0 {
				log.Info("removed uploads an earlier server left unfinished", "uploads", n)
			}
			models, err := z.Models(ctx)
			if err != nil {
				return err
			}
			if len(models) == 0 {
				log.Info("the zoo is empty; add a model with 'lcnet convert FILE --name NAME', 'lcnet pull PPLCNet_x1_0' or POST /v1/models",
					"store", store, "pull_on_demand", pullOnDemand)
			}
			t := threads
			if t <= 0 {
				t = runtime.GOMAXPROCS(0)
			}
			srv, err := api.New(cfg)
			if err != nil {
				return err
			}
			log.Info("lcnet serve", "version", versionString(), "addr", addr, "store", store, "models", len(models),
				"threads", t, "kernels", kernelImpl(), "api_key", apiKey != "", "pull_on_demand", pullOnDemand,
				"decode_budget_mib", decodeBudget>>20)
			return srv.ListenAndServe(ctx, addr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", envOr(a.getenv, "LCNET_ADDR", "127.0.0.1:8080"), "listen address (env LCNET_ADDR)")
	f.StringVar(&apiKey, "api-key", a.getenv("LCNET_API_KEY"), "key required to upload and delete models (env LCNET_API_KEY)")
	f.StringVar(&defaultModel, "default-model", a.getenv("LCNET_DEFAULT_MODEL"), "model POST /classify, /features and the demo page use when a request names none (env LCNET_DEFAULT_MODEL)")
	f.BoolVar(&pullOnDemand, "pull", envBool(a.getenv, "LCNET_PULL"), "download catalog models on first request (env LCNET_PULL=1)")
	f.StringVar(&mirror, "mirror", a.getenv("LCNET_MIRROR"), "base URL for --pull downloads instead of the official sites (env LCNET_MIRROR)")
	f.IntVar(&threads, "threads", a.envInt("LCNET_THREADS"), "inference threads (default: all cores; env LCNET_THREADS)")
	f.Int64Var(&maxBody, "max-body", 0, "largest classify/features/infer body in bytes (default 32 MiB)")
	f.Int64Var(&maxUpload, "max-upload", 0, "largest model upload in bytes (default 1 GiB)")
	f.IntVar(&maxBatch, "max-batch", 0, "most images per network call when batching requests (default 16)")
	f.DurationVar(&batchWait, "batch-wait", 0, "how long a request waits for others being decoded to batch with (default 2ms; without any, it runs at once)")
	f.IntVar(&queue, "queue", 0, "requests that may wait per model before 429 (default 64)")
	f.DurationVar(&requestTimeout, "request-timeout", 0, "bound on every request except uploads (default 30s)")
	f.DurationVar(&refresh, "refresh-interval", a.envDuration("LCNET_REFRESH_INTERVAL"), "how long a model name's resolution (its latest version) is trusted before the store is asked again: versions added or deleted by other replicas show within it, and a loaded version deleted by another replica is unloaded within five of it, at least 5s (default 1s; env LCNET_REFRESH_INTERVAL)")
	f.Int64Var(&decodeBudget, "decode-budget", 0, "bytes all images being decoded at once may take, estimated from their headers (default 384 MiB, or 2/5 of GOMEMLIMIT when that is lower)")
	f.Int64Var(&maxDecode, "max-decode", 0, "bytes decoding one image may take before it is refused with 413 (default 256 MiB)")
	f.DurationVar(&writeTimeout, "write-timeout", 0, "how long past the request deadline writing a response may take (default 10s)")
	f.DurationVar(&shutdownTimeout, "shutdown-timeout", a.envDuration("LCNET_SHUTDOWN_TIMEOUT"), "bound on the drain after SIGTERM; connections still busy are closed and the exit is 0 (default 30s; env LCNET_SHUTDOWN_TIMEOUT)")
	f.IntVar(&maxUploads, "max-uploads", 0, "model uploads that may run at once before 429 (default 2)")
	f.StringArrayVar(&corsOrigins, "cors-origin", splitList(a.getenv("LCNET_CORS_ORIGIN")), "browser origin (scheme://host[:port]) allowed to call the API, management included; repeatable (env LCNET_CORS_ORIGIN, comma-separated)")
	f.StringArrayVar(&allowedHosts, "allowed-host", nil, "Host header accepted besides localhost and the listen address when bound to loopback; repeatable")
	f.StringVar(&decode, "decode", envOr(a.getenv, "LCNET_DECODE", "exact"), "JPEG decoding for models whose manifest names none: exact (every pixel, as PaddleClas) or fast (1/2-1/8 size when the resize shrinks that much); ?decode= overrides per request (env LCNET_DECODE)")
	f.StringVar(&logFormat, "log-format", envOr(a.getenv, "LCNET_LOG_FORMAT", "text"), "log format: text or json (env LCNET_LOG_FORMAT)")
	a.storeFlag(cmd, &store)
	return cmd
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func envBool(getenv func(string) string, key string) bool {
	switch getenv(key) {
	case "1", "true", "TRUE", "True", "yes", "on":
		return true
	}
	return false
}

// envInt reads a numeric variable; a malformed one is reported and
// ignored rather than silently read as something else.
func (a *app) envInt(key string) int {
	v := a.getenv(key)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		fmt.Fprintf(a.stderr, "lcnet: ignoring %s=%q: not a number\n", key, v)
		return 0
	}
	return n
}

// envDuration reads a duration variable such as "2s"; a malformed one is
// reported and ignored, like envInt.
func (a *app) envDuration(key string) time.Duration {
	v := a.getenv(key)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		fmt.Fprintf(a.stderr, "lcnet: ignoring %s=%q: not a duration such as 2s\n", key, v)
		return 0
	}
	return d
}
