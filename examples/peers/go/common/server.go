// Package peercommon holds what the Go peer servers and clients of examples/README.md share:
// the server's listen/print/stop cycle (with grpc.health.v1.Health and server reflection next to
// the contract's service), the x-echo-*/x-method metadata rule, and the client's
// address parsing and step reporting. build.sh copies it to wirecall.example/peercommon.
package peercommon

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
)

// DefaultAddr is the address servers listen on and clients dial when --addr is not given.
const DefaultAddr = "127.0.0.1:50051"

// Serve listens on addr, prints "<service> listening on HOST:PORT" (the port actually bound),
// serves until SIGTERM or SIGINT, then stops (gracefully, forcibly after 2 s) and exits 0.
// Next to service (already registered on srv) it registers grpc.health.v1.Health (SERVING for ""
// and for service; NOT_SERVING once stopping) and server reflection
// (grpc.reflection.v1alpha.ServerReflection, the only version grpc-go 1.33 has), which lists
// every service srv serves.
func Serve(srv *grpc.Server, addr, service string) {
	if _, ok := srv.GetServiceInfo()[service]; !ok {
		fmt.Fprintf(os.Stderr, "%s: not registered on the server\n", service)
		os.Exit(1)
	}
	hs := health.NewServer() // "" is SERVING from the start
	hs.SetServingStatus(service, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)

	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGTERM, syscall.SIGINT)
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: cannot listen on %s: %v\n", service, addr, err)
		os.Exit(1)
	}
	fmt.Printf("%s listening on %s\n", service, lis.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		fmt.Fprintf(os.Stderr, "%s: serve failed: %v\n", service, err)
		os.Exit(1)
	case <-sigc:
	}
	hs.Shutdown()
	done := make(chan struct{})
	go func() { srv.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		srv.Stop()
		<-done
	}
	os.Exit(0)
}

// MethodName turns "/pkg.Service/Method" into "Method".
func MethodName(fullMethod string) string {
	return fullMethod[strings.LastIndex(fullMethod, "/")+1:]
}

// echoHeader returns the request metadata entries whose key starts with "x-echo-".
func echoHeader(ctx context.Context) metadata.MD {
	out := metadata.MD{}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		for k, vs := range md {
			if strings.HasPrefix(k, "x-echo-") {
				out[k] = append([]string(nil), vs...)
			}
		}
	}
	return out
}

// EchoUnary applies the metadata rule to a unary call: the x-echo-* request entries go into the
// response headers (sent at once) and the trailer x-method is set to the method's name; both
// reach the client whatever the call answers, errors included.
func EchoUnary(ctx context.Context, fullMethod string) {
	_ = grpc.SendHeader(ctx, echoHeader(ctx))
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-method", MethodName(fullMethod)))
}

// EchoStream is EchoUnary for a streaming call.
func EchoStream(ss grpc.ServerStream, fullMethod string) {
	_ = ss.SendHeader(echoHeader(ss.Context()))
	ss.SetTrailer(metadata.Pairs("x-method", MethodName(fullMethod)))
}

// EchoUnaryInterceptor applies EchoUnary to every unary method before its handler runs.
func EchoUnaryInterceptor(ctx context.Context, req interface{}, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (interface{}, error) {
	EchoUnary(ctx, info.FullMethod)
	return handler(ctx, req)
}

// EchoStreamInterceptor applies EchoStream to every streaming method before its handler runs.
func EchoStreamInterceptor(srv interface{}, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	EchoStream(ss, info.FullMethod)
	return handler(srv, ss)
}
