// Command keepalive_client holds one grpc-go ClientConn open with keepalive pings every 10 s
// (grpc-go's shortest) and no calls: the grpc-go side of wirecall's keepalive-enforcement
// test (wirecall-tests/tests/keepalive.rs), which checks that grpc-go backs off (doubles its
// interval) after a GOAWAY ENHANCE_YOUR_CALM carrying "too_many_pings".
//
// Usage: keepalive_client -addr=127.0.0.1:PORT -seconds=N
//
// Prints "connected" once the first connection is up, then stays N seconds and exits 0;
// grpc-go reconnects on its own after a GOAWAY. A failed first connection exits 1; bad
// usage exits 2.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

func main() {
	addr := flag.String("addr", "", "host:port of the server")
	seconds := flag.Int("seconds", 60, "how long to stay connected")
	flag.Parse()
	if *addr == "" {
		fmt.Fprintln(os.Stderr, "usage: keepalive_client -addr=HOST:PORT [-seconds=N]")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	conn, err := grpc.DialContext(ctx, *addr,
		grpc.WithInsecure(),
		grpc.WithBlock(),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                10 * time.Second,
			Timeout:             20 * time.Second,
			PermitWithoutStream: true,
		}))
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(1)
	}
	fmt.Println("connected")
	time.Sleep(time.Duration(*seconds) * time.Second)
	conn.Close()
}
