// order-client: the Go (grpc-go) peer client of order.proto (order.OrderService): runs the
// client steps of examples/README.md against a freshly started server, with the article's
// service config (examples/order-service/service_config.json) as the default service config.
//
//	order-client [--addr HOST:PORT | --addr http://HOST:PORT] [--service-config FILE]
//
// --addr defaults to 127.0.0.1:50051. --service-config defaults to the first
// examples/order-service/service_config.json found in the current directory or one of its
// parents, or else next to the executable's repository (target/peers/go/bin -> ../../../..);
// failing both, an embedded copy of that file.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"wirecall.example/orderpb"
	common "wirecall.example/peercommon"
)

// embeddedServiceConfig is examples/order-service/service_config.json, used when that file is
// not found.
const embeddedServiceConfig = `{"methodConfig":[{"name":[{"service":"order.OrderService"}],"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE","DEADLINE_EXCEEDED"]}}]}`

const serviceConfigPath = "examples/order-service/service_config.json"

// enableRetries makes grpc-go 1.33 honour the service config's retryPolicy. That version only
// retries when the environment variable GRPC_GO_RETRY is "on", and it reads the variable once,
// while its packages initialise (internal/envconfig), i.e. before main runs: an os.Setenv in
// main would come too late. So when the variable is not "on", the client sets it and re-executes
// itself (same pid, same arguments and stdio); the second run finds it set.
func enableRetries() {
	if strings.EqualFold(os.Getenv("GRPC_GO_RETRY"), "on") {
		return
	}
	os.Setenv("GRPC_GO_RETRY", "on")
	exe, err := os.Executable()
	if err == nil {
		err = syscall.Exec(exe, os.Args, os.Environ())
	}
	// Only reached when the re-execution failed: go on without retries, but say so.
	fmt.Fprintf(os.Stderr, "order-client: warning: cannot re-execute with GRPC_GO_RETRY=on (%v); retries disabled\n", err)
}

// findServiceConfig returns the service config's JSON and where it came from.
func findServiceConfig(flagValue string) (string, string, error) {
	if flagValue != "" {
		b, err := os.ReadFile(flagValue)
		if err != nil {
			return "", "", err
		}
		return string(b), flagValue, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			starts = append(starts, filepath.Dir(exe))
		}
	}
	for _, dir := range starts {
		for {
			p := filepath.Join(dir, serviceConfigPath)
			if b, err := os.ReadFile(p); err == nil {
				return string(b), p, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return embeddedServiceConfig, "embedded copy", nil
}

// Request metadata.
var (
	admin  = []string{"authorization", "Bearer admin-token"}
	reader = []string{"authorization", "Bearer reader-token"}
	echo   = []string{common.EchoKey, common.EchoValue}
)

func with(kvs ...[]string) []string {
	var out []string
	for _, kv := range kvs {
		out = append(out, kv...)
	}
	return out
}

func item(productID string, quantity int32, unitPrice float64) *orderpb.LineItem {
	return &orderpb.LineItem{ProductId: productID, Quantity: quantity, UnitPrice: unitPrice}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9 }

func describeOrder(o *orderpb.Order) string {
	var items []string
	for _, it := range o.GetItems() {
		items = append(items, fmt.Sprintf("%s x %d @ %g", it.GetProductId(), it.GetQuantity(), it.GetUnitPrice()))
	}
	return fmt.Sprintf("{%s, %s, [%s], total %g, %s}", o.GetId(), o.GetCustomerId(), strings.Join(items, ", "), o.GetTotal(), o.GetStatus())
}

func sameItems(got, want []*orderpb.LineItem) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].GetProductId() != want[i].GetProductId() || got[i].GetQuantity() != want[i].GetQuantity() || !near(got[i].GetUnitPrice(), want[i].GetUnitPrice()) {
			return false
		}
	}
	return true
}

// badRequestFields returns the fields of the google.rpc.BadRequest in a status's details.
func badRequestFields(st *status.Status) ([]string, bool) {
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			var fields []string
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
			return fields, true
		}
	}
	return nil, false
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func main() {
	enableRetries() // first of all: may re-execute the program
	addr := flag.String("addr", common.DefaultAddr, "server address, HOST:PORT or http://HOST:PORT")
	scFlag := flag.String("service-config", "", "service config JSON file (default: "+serviceConfigPath+" found from the current directory, else an embedded copy)")
	flag.Parse()
	sc, _, err := findServiceConfig(*scFlag)
	if err != nil {
		fmt.Fprintf(os.Stderr, "order-client: cannot read the service config: %v\n", err)
		os.Exit(1)
	}
	conn, err := grpc.Dial(common.ClientAddr(*addr), grpc.WithInsecure(), grpc.WithDefaultServiceConfig(sc))
	if err != nil {
		fmt.Fprintf(os.Stderr, "order-client: cannot dial %s: %v\n", *addr, err)
		os.Exit(1)
	}
	defer conn.Close()
	client := orderpb.NewOrderServiceClient(conn)
	s := &common.Steps{}
	var header, trailer metadata.MD
	hdrs := func() []grpc.CallOption {
		header, trailer = nil, nil
		return []grpc.CallOption{grpc.Header(&header), grpc.Trailer(&trailer)}
	}

	// 1. GetOrder("ord-1") with no token -> UNAUTHENTICATED.
	step := "1 GetOrder(ord-1) without token"
	{
		ctx, cancel := common.Ctx(common.CallTimeout)
		_, err := client.GetOrder(ctx, &orderpb.GetOrderRequest{Id: "ord-1"})
		cancel()
		s.ExpectCode(step, err, codes.Unauthenticated)
		s.Pass(step, common.DescribeErr(err))
	}

	// 2. GetOrder("ord-1") with reader-token (metadata check) -> the seeded ord-1.
	step = "2 GetOrder(ord-1) as reader"
	{
		ctx, cancel := common.Ctx(common.CallTimeout, with(reader, echo)...)
		o, err := client.GetOrder(ctx, &orderpb.GetOrderRequest{Id: "ord-1"}, hdrs()...)
		cancel()
		s.ExpectOK(step, err, "ord-1")
		if o.GetId() != "ord-1" || o.GetCustomerId() != "cust-1" || len(o.GetItems()) != 2 || !near(o.GetTotal(), 3.75) ||
			o.GetStatus() != orderpb.OrderStatus_ORDER_STATUS_CONFIRMED {
			s.Fail(step, "expected {ord-1, cust-1, 2 items, total 3.75, ORDER_STATUS_CONFIRMED}, got %s", describeOrder(o))
		}
		s.CheckMetadata(step, header, trailer, "GetOrder")
		s.Pass(step, describeOrder(o)+" (metadata ok)")
	}

	// 3. CreateOrder with reader-token -> PERMISSION_DENIED.
	step = "3 CreateOrder as reader"
	{
		ctx, cancel := common.Ctx(common.CallTimeout, reader...)
		_, err := client.CreateOrder(ctx, &orderpb.CreateOrderRequest{CustomerId: "cust-3", Items: []*orderpb.LineItem{item("sku-tea", 2, 3.5)}})
		cancel()
		s.ExpectCode(step, err, codes.PermissionDenied)
		s.Pass(step, common.DescribeErr(err))
	}

	// 4. CreateOrder(cust-3, [sku-tea x 2 @ 3.5, sku-cake x 1 @ 4.0]) (metadata check).
	step = "4 CreateOrder(cust-3)"
	wantItems := []*orderpb.LineItem{item("sku-tea", 2, 3.5), item("sku-cake", 1, 4.0)}
	var created *orderpb.Order
	{
		ctx, cancel := common.Ctx(common.CallTimeout, with(admin, echo)...)
		o, err := client.CreateOrder(ctx, &orderpb.CreateOrderRequest{CustomerId: "cust-3", Items: wantItems}, hdrs()...)
		cancel()
		s.ExpectOK(step, err, "a new order")
		switch o.GetId() {
		case "", "ord-1", "ord-2", "ord-3":
			s.Fail(step, "expected a new order id, got %q", o.GetId())
		}
		if o.GetCustomerId() != "cust-3" || !near(o.GetTotal(), 11.0) || o.GetStatus() != orderpb.OrderStatus_ORDER_STATUS_PENDING ||
			!sameItems(o.GetItems(), wantItems) {
			s.Fail(step, "expected {<new id>, cust-3, [sku-tea x 2 @ 3.5, sku-cake x 1 @ 4], total 11, ORDER_STATUS_PENDING}, got %s", describeOrder(o))
		}
		s.CheckMetadata(step, header, trailer, "CreateOrder")
		created = o
		s.Pass(step, describeOrder(o)+" (metadata ok)")
	}

	// 5. GetOrder(<that id>) -> the same order.
	step = "5 GetOrder(" + created.GetId() + ")"
	{
		ctx, cancel := common.Ctx(common.CallTimeout, admin...)
		o, err := client.GetOrder(ctx, &orderpb.GetOrderRequest{Id: created.GetId()})
		cancel()
		s.ExpectOK(step, err, describeOrder(created))
		if !proto.Equal(o, created) {
			s.Fail(step, "expected %s, got %s", describeOrder(created), describeOrder(o))
		}
		s.Pass(step, describeOrder(o))
	}

	// 6. CreateOrder("", [sku-x x 0 @ -1.0]) -> INVALID_ARGUMENT with a BadRequest.
	step = "6 CreateOrder invalid"
	{
		ctx, cancel := common.Ctx(common.CallTimeout, admin...)
		_, err := client.CreateOrder(ctx, &orderpb.CreateOrderRequest{Items: []*orderpb.LineItem{item("sku-x", 0, -1.0)}})
		cancel()
		st := s.ExpectCode(step, err, codes.InvalidArgument)
		want := []string{"customer_id", "items[0].quantity", "items[0].unit_price"}
		fields, ok := badRequestFields(st)
		if !ok {
			s.Fail(step, "expected a google.rpc.BadRequest in the status details, got %d detail(s): %v", len(st.Details()), st.Details())
		}
		if !sameStrings(fields, want) {
			s.Fail(step, "expected BadRequest fields %q, got %q", want, fields)
		}
		s.Pass(step, fmt.Sprintf("%s, BadRequest fields %q", common.CodeName(st.Code()), fields))
	}

	// 7. GetOrder("ord-404") -> NOT_FOUND with an ErrorInfo.
	step = "7 GetOrder(ord-404)"
	{
		ctx, cancel := common.Ctx(common.CallTimeout, admin...)
		_, err := client.GetOrder(ctx, &orderpb.GetOrderRequest{Id: "ord-404"})
		cancel()
		st := s.ExpectCode(step, err, codes.NotFound)
		if st.Message() != "order ord-404 not found" {
			s.Fail(step, "expected message %q, got %q", "order ord-404 not found", st.Message())
		}
		var info *errdetails.ErrorInfo
		for _, d := range st.Details() {
			if i, ok := d.(*errdetails.ErrorInfo); ok {
				info = i
			}
		}
		if info == nil {
			s.Fail(step, "expected a google.rpc.ErrorInfo in the status details, got %d detail(s): %v", len(st.Details()), st.Details())
		}
		if info.GetReason() != "ORDER_NOT_FOUND" || info.GetDomain() != "order.myapp.com" || info.GetMetadata()["order_id"] != "ord-404" {
			s.Fail(step, "expected ErrorInfo{reason ORDER_NOT_FOUND, domain order.myapp.com, metadata order_id=ord-404}, got {reason %q, domain %q, metadata %v}",
				info.GetReason(), info.GetDomain(), info.GetMetadata())
		}
		s.Pass(step, fmt.Sprintf("NOT_FOUND %q, ErrorInfo{%s, %s, order_id=%s}", st.Message(), info.GetReason(), info.GetDomain(), info.GetMetadata()["order_id"]))
	}

	// listOrders streams ListOrders(customer) to its end and returns the ids and orders.
	listOrders := func(step, customer string, md []string) ([]string, []*orderpb.Order, metadata.MD, metadata.MD) {
		ctx, cancel := common.Ctx(common.CallTimeout, md...)
		defer cancel()
		stream, err := client.ListOrders(ctx, &orderpb.ListOrdersRequest{CustomerId: customer})
		s.ExpectOK(step, err, "a stream of orders")
		var ids []string
		var orders []*orderpb.Order
		for {
			o, err := stream.Recv()
			if err == io.EOF {
				break
			}
			s.ExpectOK(step, err, "a stream of orders")
			ids = append(ids, o.GetId())
			orders = append(orders, o)
		}
		h, _ := stream.Header()
		return ids, orders, h, stream.Trailer()
	}

	// 8. ListOrders("cust-1") with reader-token (metadata check) -> ord-1, ord-2.
	step = "8 ListOrders(cust-1) as reader"
	{
		ids, _, h, t := listOrders(step, "cust-1", with(reader, echo))
		if want := []string{"ord-1", "ord-2"}; !sameStrings(ids, want) {
			s.Fail(step, "expected orders %q, got %q", want, ids)
		}
		s.CheckMetadata(step, h, t, "ListOrders")
		s.Pass(step, fmt.Sprintf("%q (metadata ok)", ids))
	}

	// 9. ListOrders("cust-3") -> the order of step 4 only.
	step = "9 ListOrders(cust-3)"
	{
		ids, orders, _, _ := listOrders(step, "cust-3", admin)
		if len(orders) != 1 || !proto.Equal(orders[0], created) {
			s.Fail(step, "expected exactly %s, got %q", describeOrder(created), ids)
		}
		s.Pass(step, fmt.Sprintf("%q", ids))
	}

	// upload streams UploadLineItems(items) and returns the summary or the error.
	upload := func(md []string, items []*orderpb.LineItem) (*orderpb.UploadSummary, metadata.MD, metadata.MD, error) {
		ctx, cancel := common.Ctx(common.CallTimeout, md...)
		defer cancel()
		stream, err := client.UploadLineItems(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, it := range items {
			// io.EOF: the server already answered (an error); CloseAndRecv returns it.
			if err := stream.Send(it); err != nil {
				break
			}
		}
		summary, err := stream.CloseAndRecv()
		h, _ := stream.Header()
		return summary, h, stream.Trailer(), err
	}

	// 10. UploadLineItems([a x 2 @ 1.5, b x 1 @ 3.0, c x 4 @ 0.25]) (metadata check).
	step = "10 UploadLineItems"
	{
		sum, h, t, err := upload(with(admin, echo), []*orderpb.LineItem{item("a", 2, 1.5), item("b", 1, 3.0), item("c", 4, 0.25)})
		s.ExpectOK(step, err, "a summary")
		if sum.GetItemCount() != 3 || sum.GetTotalQuantity() != 7 || !near(sum.GetTotalAmount(), 7.0) {
			s.Fail(step, "expected {item_count 3, total_quantity 7, total_amount 7}, got {%d, %d, %g}", sum.GetItemCount(), sum.GetTotalQuantity(), sum.GetTotalAmount())
		}
		s.CheckMetadata(step, h, t, "UploadLineItems")
		s.Pass(step, fmt.Sprintf("{item_count %d, total_quantity %d, total_amount %g} (metadata ok)", sum.GetItemCount(), sum.GetTotalQuantity(), sum.GetTotalAmount()))
	}

	// 11. UploadLineItems([a x 1 @ 1.0, b x 0 @ 1.0]) -> INVALID_ARGUMENT, BadRequest items[1].quantity.
	step = "11 UploadLineItems invalid"
	{
		_, _, _, err := upload(admin, []*orderpb.LineItem{item("a", 1, 1.0), item("b", 0, 1.0)})
		st := s.ExpectCode(step, err, codes.InvalidArgument)
		want := []string{"items[1].quantity"}
		fields, ok := badRequestFields(st)
		if !ok {
			s.Fail(step, "expected a google.rpc.BadRequest in the status details, got %d detail(s): %v", len(st.Details()), st.Details())
		}
		if !sameStrings(fields, want) {
			s.Fail(step, "expected BadRequest fields %q, got %q", want, fields)
		}
		s.Pass(step, fmt.Sprintf("%s, BadRequest fields %q", common.CodeName(st.Code()), fields))
	}

	// 12. OrderChat ping-pong (metadata check); the client ends, the stream ends OK.
	step = "12 OrderChat"
	{
		ctx, cancel := common.Ctx(common.CallTimeout, with(admin, echo)...)
		stream, err := client.OrderChat(ctx)
		s.ExpectOK(step, err, "a chat stream")
		var got []string
		for _, text := range []string{"hello", "bye"} {
			if err := stream.Send(&orderpb.ChatMessage{OrderId: "ord-1", Sender: "client", Text: text}); err != nil {
				_, rerr := stream.Recv()
				s.Fail(step, "sending %q: %v (stream: %s)", text, err, common.DescribeErr(rerr))
			}
			m, err := stream.Recv()
			s.ExpectOK(step, err, "an answer to "+text)
			want := &orderpb.ChatMessage{OrderId: "ord-1", Sender: "server", Text: "Echo: " + text}
			if !proto.Equal(m, want) {
				s.Fail(step, "expected {ord-1, server, %q}, got {%s, %s, %q}", want.Text, m.GetOrderId(), m.GetSender(), m.GetText())
			}
			got = append(got, fmt.Sprintf("{%s, %s, %q}", m.GetOrderId(), m.GetSender(), m.GetText()))
		}
		s.ExpectOK(step, stream.CloseSend(), "the end of the client's side")
		if m, err := stream.Recv(); err != io.EOF {
			if err == nil {
				s.Fail(step, "expected the stream to end OK, got another message {%s, %s, %q}", m.GetOrderId(), m.GetSender(), m.GetText())
			}
			s.Fail(step, "expected the stream to end OK, got %s", common.DescribeErr(err))
		}
		h, _ := stream.Header()
		s.CheckMetadata(step, h, stream.Trailer(), "OrderChat")
		cancel()
		s.Pass(step, strings.Join(got, ", ")+", ended OK (metadata ok)")
	}

	// 13. OrderChat with a 200 ms deadline, sending nothing -> DEADLINE_EXCEEDED.
	step = "13 OrderChat 200 ms deadline"
	{
		ctx, cancel := common.Ctx(200*time.Millisecond, admin...)
		start := time.Now()
		var err error
		stream, serr := client.OrderChat(ctx)
		if serr != nil {
			err = serr
		} else {
			var m *orderpb.ChatMessage
			if m, err = stream.Recv(); err == nil {
				s.Fail(step, "expected DEADLINE_EXCEEDED, got a message {%s, %s, %q}", m.GetOrderId(), m.GetSender(), m.GetText())
			}
			if errors.Is(err, io.EOF) {
				s.Fail(step, "expected DEADLINE_EXCEEDED, got the end of the stream (OK)")
			}
		}
		cancel()
		s.ExpectCode(step, err, codes.DeadlineExceeded)
		s.Pass(step, fmt.Sprintf("%s after %d ms", common.CodeName(codes.DeadlineExceeded), time.Since(start).Milliseconds()))
	}

	s.Done()
}
