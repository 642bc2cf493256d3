// math-client: the Go (grpc-go) peer client of math.proto (math.Calculator): runs the client
// steps of examples/README.md against a freshly started server.
//
//	math-client [--addr HOST:PORT | --addr http://HOST:PORT]   (default 127.0.0.1:50051)
package main

import (
	"flag"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"wirecall.example/mathpb"
	common "wirecall.example/peercommon"
)

func main() {
	addr := flag.String("addr", common.DefaultAddr, "server address, HOST:PORT or http://HOST:PORT")
	flag.Parse()
	conn, err := grpc.Dial(common.ClientAddr(*addr), grpc.WithInsecure())
	if err != nil {
		fmt.Fprintf(os.Stderr, "math-client: cannot dial %s: %v\n", *addr, err)
		os.Exit(1)
	}
	defer conn.Close()
	client := mathpb.NewCalculatorClient(conn)
	s := &common.Steps{}

	// add calls Add(a, b) with the 5 s deadline; with check, it sends x-echo-check and
	// checks the headers and trailers.
	add := func(step string, a, b int32, check bool) (*mathpb.AddResponse, error) {
		var kv []string
		if check {
			kv = []string{common.EchoKey, common.EchoValue}
		}
		ctx, cancel := common.Ctx(common.CallTimeout, kv...)
		defer cancel()
		var header, trailer metadata.MD
		resp, err := client.Add(ctx, &mathpb.AddRequest{A: a, B: b}, grpc.Header(&header), grpc.Trailer(&trailer))
		if check && err == nil {
			s.CheckMetadata(step, header, trailer, "Add")
		}
		return resp, err
	}
	expectSum := func(step string, a, b, want int32, check bool) {
		resp, err := add(step, a, b, check)
		s.ExpectOK(step, err, fmt.Sprint(want))
		if resp.GetResult() != want {
			s.Fail(step, "expected %d, got %d", want, resp.GetResult())
		}
		suffix := ""
		if check {
			suffix = " (metadata ok)"
		}
		s.Pass(step, fmt.Sprintf("%d%s", resp.GetResult(), suffix))
	}
	expectInvalid := func(step string, a, b int32) {
		_, err := add(step, a, b, false)
		s.ExpectCode(step, err, codes.InvalidArgument)
		s.Pass(step, common.DescribeErr(err))
	}

	expectSum("1 Add(2, 3)", 2, 3, 5, true)
	expectSum("2 Add(-7, 4)", -7, 4, -3, false)
	expectSum("3 Add(2147483647, 0)", 2147483647, 0, 2147483647, false)
	expectInvalid("4 Add(2147483647, 1)", 2147483647, 1)
	expectInvalid("5 Add(-2147483648, -1)", -2147483648, -1)
	s.Done()
}
