// Command reflection_server serves, with grpc-go, the interop grpc.testing.TestService,
// the health service (grpc.health.v1.Health: "" and grpc.testing.TestService SERVING) and
// server reflection (grpc.reflection.v1alpha, the only version grpc-go 1.33.3 has): a
// known-good grpc-go server for wirecall's reflection client tests. Started by
// wirecall_tests::go::start_reflection_server; checked by
// interop/tests/go_reflection_server.rs.
//
// Usage: reflection_server -port=PORT (0 picks a free port)
//
// Listens on 127.0.0.1 only and prints "listening 127.0.0.1:PORT" once bound. Stops
// gracefully on SIGINT or SIGTERM; exits 2 if it cannot listen.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/interop"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/reflection"
)

func main() {
	port := flag.Int("port", 0, "the port to listen on, on 127.0.0.1 (0 picks one)")
	flag.Parse()

	lis, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(2)
	}
	server := grpc.NewServer()
	testpb.RegisterTestServiceServer(server, interop.NewTestServer())
	healthServer := health.NewServer()
	healthServer.SetServingStatus("grpc.testing.TestService", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(server, healthServer)
	reflection.Register(server)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-signals
		healthServer.Shutdown()
		server.GracefulStop()
	}()

	// os.Stdout is not buffered: the line is out when Printf returns; Sync is for a file.
	fmt.Printf("listening %s\n", lis.Addr())
	_ = os.Stdout.Sync()
	if err := server.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}
