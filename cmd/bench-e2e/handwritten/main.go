// Command handwritten is the baseline of `make bench-e2e`: the benchmark's
// workflow written by hand as a small standard-library Go server, the way a
// team would write it without an engine. It keeps nothing: no record of its
// executions, no retries, no breakers — what weft adds is measured against
// it.
//
// POST /execute with {"input": {"leadId": "42"}} gets the lead from the mock
// API, shapes it (two renames, a calculation, an upper-case), and when its
// score is above 50 posts it to carriers a and b at once, each call with an
// Idempotency-Key as weft sends. The answer has the shape of weft's
// `?wait=` answer: {"executionId", "status": "COMPLETED", "output": {"lead",
// "carriers": {"a", "b"}}}.
//
// Usage:
//
//	handwritten -api http://127.0.0.1:9100 [-addr 127.0.0.1:0]
//
// It prints "listening ADDR" once it accepts connections.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen `address`")
	api := flag.String("api", "", "base `URL` of the mock API")
	flag.Parse()
	if *api == "" {
		fmt.Fprintln(os.Stderr, "handwritten: -api is required")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "handwritten:", err)
		os.Exit(1)
	}
	h := &handler{api: strings.TrimRight(*api, "/"), client: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute},
	}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /execute", h.execute)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("listening %s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "handwritten:", err)
		os.Exit(1)
	}
}

type handler struct {
	api    string
	client *http.Client
}

func (h *handler) execute(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Input struct {
			LeadID string `json:"leadId"`
		} `json:"input"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || req.Input.LeadID == "" {
		answer(w, http.StatusBadRequest, map[string]any{"code": "VALIDATION", "message": "input.leadId is required"})
		return
	}
	id := newID()
	out, err := h.run(r.Context(), id, req.Input.LeadID)
	if err != nil {
		answer(w, http.StatusOK, map[string]any{"executionId": id, "status": "FAILED", "error": map[string]any{"message": err.Error()}})
		return
	}
	answer(w, http.StatusOK, map[string]any{"executionId": id, "status": "COMPLETED", "output": out})
}

// run is the workflow: get, shape, decide, post to both carriers at once.
func (h *handler) run(ctx context.Context, id, leadID string) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var lead map[string]any
	if err := h.call(ctx, http.MethodGet, "/leads/"+leadID, "", nil, &lead); err != nil {
		return nil, fmt.Errorf("get_lead: %w", err)
	}
	lead["contactEmail"] = lead["email"]
	delete(lead, "email")
	lead["contactPhone"] = lead["phone"]
	delete(lead, "phone")
	score, _ := lead["score"].(float64)
	lead["priority"] = score * 2
	if s, ok := lead["state"].(string); ok {
		lead["state"] = strings.ToUpper(s)
	}
	out := map[string]any{"lead": lead}
	if score <= 50 {
		return out, nil
	}
	body, err := json.Marshal(lead)
	if err != nil {
		return nil, err
	}
	carriers := map[string]any{}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	for _, name := range []string{"a", "b"} {
		wg.Go(func() {
			var answer any
			err := h.call(ctx, http.MethodPost, "/carriers/"+name, id+"/carrier_"+name, body, &answer)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("carrier_%s: %w", name, err))
				return
			}
			carriers[name] = answer
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out["carriers"] = carriers
	return out, nil
}

// call makes one request to the API and decodes its JSON answer.
func (h *handler) call(ctx context.Context, method, path, key string, body []byte, into any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.api+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 10<<20))
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", res.StatusCode)
	}
	return json.Unmarshal(data, into)
}

func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
