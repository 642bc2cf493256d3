// Command health_client reads a server's grpc.health.v1.Health with grpc-go's generated
// stubs: the grpc-go side of wirecall's health test (interop/tests/go_health.rs).
//
// Usage: health_client -addr=127.0.0.1:PORT -service=NAME -watch=N
//
// Prints one line per answer: "check <service> <STATUS>" for Check("") (shown as "") and
// Check(-service), "check missing <Code>" for Check("no.Such") (the status code's name,
// e.g. NotFound), then "watch <STATUS>" for each of the first N messages of
// Watch(-service). A failed Check or Watch prints "... ERR <Code>" and exits 1; bad
// usage exits 2. Every call has a deadline, so the program never hangs.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

func main() {
	addr := flag.String("addr", "", "host:port of the server")
	service := flag.String("service", "", "the service to check and watch")
	watch := flag.Int("watch", 0, "how many Watch messages to print")
	watchTimeout := flag.Duration("watch_timeout", 30*time.Second, "deadline of the Watch call")
	flag.Parse()
	if *addr == "" || *service == "" {
		fmt.Fprintln(os.Stderr, "usage: health_client -addr=HOST:PORT -service=NAME [-watch=N]")
		os.Exit(2)
	}

	conn, err := grpc.Dial(*addr, grpc.WithInsecure())
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(2)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)

	check := func(name string) (*healthpb.HealthCheckResponse, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return client.Check(ctx, &healthpb.HealthCheckRequest{Service: name})
	}
	for _, name := range []string{"", *service} {
		shown := name
		if shown == "" {
			shown = `""`
		}
		reply, err := check(name)
		if err != nil {
			fmt.Printf("check %s ERR %s\n", shown, status.Code(err))
			os.Exit(1)
		}
		fmt.Printf("check %s %s\n", shown, reply.GetStatus())
	}
	if reply, err := check("no.Such"); err != nil {
		fmt.Printf("check missing %s\n", status.Code(err))
	} else {
		fmt.Printf("check missing OK %s\n", reply.GetStatus())
	}

	if *watch <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), *watchTimeout)
	defer cancel()
	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: *service})
	if err != nil {
		fmt.Printf("watch ERR %s\n", status.Code(err))
		os.Exit(1)
	}
	for i := 0; i < *watch; i++ {
		update, err := stream.Recv()
		if err != nil {
			fmt.Printf("watch ERR %s\n", status.Code(err))
			os.Exit(1)
		}
		fmt.Printf("watch %s\n", update.GetStatus())
	}
}
