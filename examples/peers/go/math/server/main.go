// math-server: the Go (grpc-go) peer server of math.proto (math.Calculator), as
// examples/README.md specifies it.
//
//	math-server [--addr HOST:PORT]   (default 127.0.0.1:50051; port 0 picks a free port)
package main

import (
	"context"
	"flag"
	"math"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"wirecall.example/mathpb"
	common "wirecall.example/peercommon"
)

type calculator struct {
	mathpb.UnimplementedCalculatorServer
}

// Add answers a + b; a sum outside int32 answers INVALID_ARGUMENT.
func (calculator) Add(_ context.Context, req *mathpb.AddRequest) (*mathpb.AddResponse, error) {
	sum := int64(req.GetA()) + int64(req.GetB())
	if sum > math.MaxInt32 || sum < math.MinInt32 {
		return nil, status.Errorf(codes.InvalidArgument, "%d + %d overflows int32", req.GetA(), req.GetB())
	}
	return &mathpb.AddResponse{Result: int32(sum)}, nil
}

func main() {
	addr := flag.String("addr", common.DefaultAddr, "HOST:PORT to listen on (port 0 picks a free port)")
	flag.Parse()
	// The metadata rule (x-echo-* headers, x-method trailer) applies to every method.
	srv := grpc.NewServer(
		grpc.UnaryInterceptor(common.EchoUnaryInterceptor),
		grpc.StreamInterceptor(common.EchoStreamInterceptor),
	)
	mathpb.RegisterCalculatorServer(srv, calculator{})
	common.Serve(srv, *addr, "math.Calculator")
}
