// Command hello-server is the tiny HTTP server the examples and the tests
// run in FROM-scratch images. Its behaviour is set by env:
//
//	PORT          port to listen on (default 8080)
//	MESSAGE       what / answers (default "hello from berth")
//	READY_DELAY   how long /healthz answers 503 after start (e.g. "3s")
//	LISTEN_DELAY  how long to wait before listening at all (a slow boot)
//	NEVER_READY   "1": /healthz always answers 503
//	EXIT_AFTER    exit with status 1 after this long (e.g. "1s")
//	SHOW_ENV      "1": /env answers the process env as JSON (tests only)
//	DIAL          "1": /dial?addr=HOST:PORT says whether a TCP connection opens (tests only)
//	DATA_FILE     a file path: PUT /data writes the body there, GET /data reads it
//
// `hello-server task CODE [SLEEP] [NAME...]` is a one-off task instead (a
// migration, a job): it prints "task ran" and NAME=value for each env
// variable named, writes TASK_WRITE ("path=value") when set, sleeps SLEEP
// (e.g. "2s"), and exits with CODE.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "task" {
		task(os.Args[2:])
	}
	start := time.Now()
	port := envOr("PORT", "8080")
	msg := envOr("MESSAGE", "hello from berth")
	readyDelay, _ := time.ParseDuration(os.Getenv("READY_DELAY"))
	if d, err := time.ParseDuration(os.Getenv("EXIT_AFTER")); err == nil {
		time.AfterFunc(d, func() { log.Print("exiting as asked"); os.Exit(1) })
	}
	for _, name := range strings.Split(os.Getenv("PRINT_ENV"), ",") {
		if name != "" {
			fmt.Printf("%s=%s\n", name, os.Getenv(name)) // for the tests of redaction
		}
	}
	if d, err := time.ParseDuration(os.Getenv("LOG_EVERY")); err == nil && d > 0 {
		go func() {
			for i := 1; ; i++ {
				time.Sleep(d)
				fmt.Printf("%s line %d\n", envOr("MESSAGE", "hello"), i)
			}
		}()
	}
	if d, err := time.ParseDuration(os.Getenv("EAT_MEMORY_AFTER")); err == nil {
		time.AfterFunc(d, eatMemory) // for the tests of memory limits
	}
	host, _ := os.Hostname()

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%s (%s)\n", msg, host)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if os.Getenv("NEVER_READY") == "1" || time.Since(start) < readyDelay {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	if os.Getenv("SHOW_ENV") == "1" {
		mux.HandleFunc("/env", func(w http.ResponseWriter, _ *http.Request) {
			env := map[string]string{}
			for _, kv := range os.Environ() {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			_ = json.NewEncoder(w).Encode(env)
		})
	}
	if os.Getenv("DIAL") == "1" {
		mux.HandleFunc("/dial", dial)
	}
	if f := os.Getenv("DATA_FILE"); f != "" {
		mux.HandleFunc("/data", func(w http.ResponseWriter, r *http.Request) { data(w, r, f) })
	}
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if d, err := time.ParseDuration(os.Getenv("LISTEN_DELAY")); err == nil {
		log.Printf("booting for %s before listening", d)
		time.Sleep(d)
	}
	log.Printf("listening on :%s", port)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// data reads or writes the file at path: a stand-in for a database's data
// directory, to show that a redeploy keeps it.
func data(w http.ResponseWriter, r *http.Request, path string) {
	switch r.Method {
	case http.MethodPut:
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = os.WriteFile(path, body, 0o600)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	default:
		b, err := os.ReadFile(path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		_, _ = w.Write(b)
	}
}

// hoard keeps what eatMemory took reachable.
var hoard [][]byte

// eatMemory takes memory, 1 MiB at a time and touched, until the kernel
// stops it.
func eatMemory() {
	log.Print("eating memory as asked")
	for range 4096 {
		b := make([]byte, 1<<20)
		for i := range b {
			b[i] = 1
		}
		hoard = append(hoard, b)
		time.Sleep(time.Millisecond)
	}
}

// task runs the one-off task mode and exits.
func task(args []string) {
	code := 0
	if len(args) > 0 {
		_, _ = fmt.Sscan(args[0], &code)
	}
	fmt.Println("task ran")
	if path, value, ok := strings.Cut(os.Getenv("TASK_WRITE"), "="); ok {
		if err := os.WriteFile(path, []byte(value), 0o600); err != nil {
			fmt.Println("task write:", err)
			os.Exit(2)
		}
	}
	if len(args) > 1 {
		for _, name := range args[2:] {
			fmt.Printf("%s=%s\n", name, os.Getenv(name))
		}
		if d, err := time.ParseDuration(args[1]); err == nil {
			time.Sleep(d)
		}
	}
	os.Exit(code)
}

// dial answers whether this container can open a TCP connection to the
// addr parameter: "open", or "closed:" and why (for the tests of network
// isolation).
func dial(w http.ResponseWriter, r *http.Request) {
	c, err := net.DialTimeout("tcp", r.URL.Query().Get("addr"), time.Second)
	if err != nil {
		fmt.Fprintln(w, "closed:", err)
		return
	}
	_ = c.Close()
	fmt.Fprintln(w, "open")
}
