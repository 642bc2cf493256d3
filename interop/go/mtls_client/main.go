// Command mtls_client calls grpc.testing.TestService/EmptyCall with grpc-go over TLS,
// presenting a client certificate when given one: the grpc-go side of wirecall's mutual
// TLS test (interop/tests/go_mtls.rs). Prints "OK" or "ERR <code>"; exits 2 on bad setup.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

func main() {
	addr := flag.String("addr", "", "host:port of the server")
	caFile := flag.String("ca", "", "PEM file of the CA to trust")
	certFile := flag.String("cert", "", "PEM client certificate (optional)")
	keyFile := flag.String("key", "", "PEM client key (with -cert)")
	name := flag.String("name", "", "the server name to check the certificate against")
	flag.Parse()

	caPEM, err := ioutil.ReadFile(*caFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reading the CA:", err)
		os.Exit(2)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		fmt.Fprintln(os.Stderr, "no CA certificate in", *caFile)
		os.Exit(2)
	}
	config := &tls.Config{RootCAs: roots, ServerName: *name}
	if *certFile != "" {
		pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "reading the client certificate:", err)
			os.Exit(2)
		}
		config.Certificates = []tls.Certificate{pair}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := grpc.Dial(*addr, grpc.WithTransportCredentials(credentials.NewTLS(config)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(2)
	}
	defer conn.Close()
	_, err = testpb.NewTestServiceClient(conn).EmptyCall(ctx, &testpb.Empty{})
	if err != nil {
		fmt.Printf("ERR %s\n", status.Code(err))
		return
	}
	fmt.Println("OK")
}
