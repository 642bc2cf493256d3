// Command retry_server is a grpc-go server that fails the first attempts of each call with
// UNAVAILABLE, so that a client's retry policy (gRFC A6) has something to retry, and shows
// the client what it saw: wirecall's interop test of retries against grpc-go
// (interop/tests/go_retry.rs).
//
// It serves grpc.testing.TestService/EmptyCall. Attempts of one call are told apart by the
// request metadata x-call-id. Each attempt's grpc-previous-rpc-attempts header (or "none")
// is recorded under its call id; while fewer than -fail attempts of that call have arrived,
// the attempt answers UNAVAILABLE "attempt N fails". The next one answers OK with the
// response header x-seen-attempts listing every recorded value in order, comma-separated.
//
// Usage: retry_server -port=PORT -fail=N (port 0 picks a free one)
//
// Listens on 127.0.0.1 only and prints "listening 127.0.0.1:PORT" once bound. Stops on
// SIGINT or SIGTERM; exits 2 if it cannot listen.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

type flakyServer struct {
	testpb.UnimplementedTestServiceServer
	fail int

	mu   sync.Mutex
	seen map[string][]string
}

func first(md metadata.MD, key string, fallback string) string {
	if values := md.Get(key); len(values) > 0 {
		return values[0]
	}
	return fallback
}

func (s *flakyServer) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	id := first(md, "x-call-id", "")
	attempts := first(md, "grpc-previous-rpc-attempts", "none")

	s.mu.Lock()
	s.seen[id] = append(s.seen[id], attempts)
	seen := append([]string(nil), s.seen[id]...)
	s.mu.Unlock()

	if len(seen) <= s.fail {
		return nil, status.Errorf(codes.Unavailable, "attempt %d fails", len(seen)-1)
	}
	if err := grpc.SetHeader(ctx, metadata.Pairs("x-seen-attempts", strings.Join(seen, ","))); err != nil {
		return nil, err
	}
	return &testpb.Empty{}, nil
}

func main() {
	port := flag.Int("port", 0, "the port to listen on, on 127.0.0.1 (0 picks one)")
	fail := flag.Int("fail", 2, "how many attempts of each call fail with UNAVAILABLE")
	flag.Parse()

	lis, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(2)
	}
	server := grpc.NewServer()
	testpb.RegisterTestServiceServer(server, &flakyServer{fail: *fail, seen: map[string][]string{}})

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-signals
		server.Stop()
	}()

	fmt.Printf("listening %s\n", lis.Addr())
	_ = os.Stdout.Sync()
	if err := server.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}
