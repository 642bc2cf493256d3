// order-server: the Go (grpc-go) peer server of order.proto (order.OrderService), as
// examples/README.md specifies it.
//
//	order-server [--addr HOST:PORT]   (default 127.0.0.1:50051; port 0 picks a free port)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"wirecall.example/orderpb"
	common "wirecall.example/peercommon"
)

// ---- authorization: "Bearer <token>", checked by the interceptors before any handler ----

// readerMethods are the methods reader-token may call; admin-token may call every method.
var readerMethods = map[string]bool{"GetOrder": true, "ListOrders": true}

// authorize guards the methods of order.OrderService only: grpc.health.v1.Health and server
// reflection, served next to it, need no token (probes have none).
func authorize(ctx context.Context, fullMethod string) error {
	if !strings.HasPrefix(fullMethod, "/order.OrderService/") {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get("authorization")
	if len(values) == 0 {
		return status.Error(codes.Unauthenticated, "missing authorization header")
	}
	const scheme = "bearer "
	if len(values[0]) <= len(scheme) || !strings.EqualFold(values[0][:len(scheme)], scheme) {
		return status.Error(codes.Unauthenticated, "malformed authorization header (expected: Bearer <token>)")
	}
	switch token := strings.TrimSpace(values[0][len(scheme):]); token {
	case "admin-token":
		return nil
	case "reader-token":
		if readerMethods[common.MethodName(fullMethod)] {
			return nil
		}
		return status.Errorf(codes.PermissionDenied, "reader-token may not call %s", common.MethodName(fullMethod))
	default:
		return status.Error(codes.Unauthenticated, "unknown token")
	}
}

// The interceptors apply the metadata rule first (so that the answers the token check rejects
// carry the x-echo-* headers and the x-method trailer too), then check the token.
func unaryInterceptor(ctx context.Context, req interface{}, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (interface{}, error) {
	common.EchoUnary(ctx, info.FullMethod)
	if err := authorize(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func streamInterceptor(srv interface{}, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	common.EchoStream(ss, info.FullMethod)
	if err := authorize(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}

// ---- the store ----

type server struct {
	orderpb.UnimplementedOrderServiceServer
	mu     sync.Mutex
	orders []*orderpb.Order // in creation order
	next   int              // the number of the next order id
}

func item(productID string, quantity int32, unitPrice float64) *orderpb.LineItem {
	return &orderpb.LineItem{ProductId: productID, Quantity: quantity, UnitPrice: unitPrice}
}

func total(items []*orderpb.LineItem) float64 {
	sum := 0.0
	for _, it := range items {
		sum += float64(it.GetQuantity()) * it.GetUnitPrice()
	}
	return sum
}

func newServer() *server {
	s := &server{next: 1}
	seed := func(customer string, st orderpb.OrderStatus, items ...*orderpb.LineItem) {
		s.orders = append(s.orders, &orderpb.Order{
			Id: fmt.Sprintf("ord-%d", s.next), CustomerId: customer, Items: items, Total: total(items), Status: st,
		})
		s.next++
	}
	seed("cust-1", orderpb.OrderStatus_ORDER_STATUS_CONFIRMED, item("sku-apple", 3, 0.5), item("sku-bread", 1, 2.25))
	seed("cust-1", orderpb.OrderStatus_ORDER_STATUS_SHIPPED, item("sku-milk", 2, 1.2))
	seed("cust-2", orderpb.OrderStatus_ORDER_STATUS_PENDING, item("sku-coffee", 1, 7.5))
	return s
}

// itemViolations lists what is wrong with item i, in the order product_id, quantity, unit_price.
func itemViolations(i int, it *orderpb.LineItem) []*errdetails.BadRequest_FieldViolation {
	var v []*errdetails.BadRequest_FieldViolation
	if it.GetProductId() == "" {
		v = append(v, violation(fmt.Sprintf("items[%d].product_id", i), "must not be empty"))
	}
	if it.GetQuantity() <= 0 {
		v = append(v, violation(fmt.Sprintf("items[%d].quantity", i), "must be positive"))
	}
	if it.GetUnitPrice() < 0 {
		v = append(v, violation(fmt.Sprintf("items[%d].unit_price", i), "must not be negative"))
	}
	return v
}

func violation(field, description string) *errdetails.BadRequest_FieldViolation {
	return &errdetails.BadRequest_FieldViolation{Field: field, Description: description}
}

// badRequest is INVALID_ARGUMENT with a google.rpc.BadRequest listing the violations.
func badRequest(msg string, v []*errdetails.BadRequest_FieldViolation) error {
	st, err := status.New(codes.InvalidArgument, msg).WithDetails(&errdetails.BadRequest{FieldViolations: v})
	if err != nil {
		return status.Errorf(codes.Internal, "cannot attach BadRequest: %v", err)
	}
	return st.Err()
}

func (s *server) CreateOrder(_ context.Context, req *orderpb.CreateOrderRequest) (*orderpb.Order, error) {
	var v []*errdetails.BadRequest_FieldViolation
	if req.GetCustomerId() == "" {
		v = append(v, violation("customer_id", "must not be empty"))
	}
	if len(req.GetItems()) == 0 {
		v = append(v, violation("items", "must not be empty"))
	}
	for i, it := range req.GetItems() {
		v = append(v, itemViolations(i, it)...)
	}
	if len(v) > 0 {
		return nil, badRequest(fmt.Sprintf("invalid order: %d violation(s)", len(v)), v)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := &orderpb.Order{
		Id:         fmt.Sprintf("ord-%d", s.next),
		CustomerId: req.GetCustomerId(),
		Items:      req.GetItems(),
		Total:      total(req.GetItems()),
		Status:     orderpb.OrderStatus_ORDER_STATUS_PENDING,
	}
	s.next++
	s.orders = append(s.orders, o)
	return proto.Clone(o).(*orderpb.Order), nil
}

func (s *server) GetOrder(_ context.Context, req *orderpb.GetOrderRequest) (*orderpb.Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.orders {
		if o.GetId() == req.GetId() {
			return proto.Clone(o).(*orderpb.Order), nil
		}
	}
	st, err := status.New(codes.NotFound, fmt.Sprintf("order %s not found", req.GetId())).WithDetails(&errdetails.ErrorInfo{
		Reason:   "ORDER_NOT_FOUND",
		Domain:   "order.myapp.com",
		Metadata: map[string]string{"order_id": req.GetId()},
	})
	if err != nil {
		return nil, status.Errorf(codes.Internal, "cannot attach ErrorInfo: %v", err)
	}
	return nil, st.Err()
}

func (s *server) ListOrders(req *orderpb.ListOrdersRequest, stream orderpb.OrderService_ListOrdersServer) error {
	s.mu.Lock()
	var matching []*orderpb.Order
	for _, o := range s.orders {
		if req.GetCustomerId() == "" || o.GetCustomerId() == req.GetCustomerId() {
			matching = append(matching, proto.Clone(o).(*orderpb.Order))
		}
	}
	s.mu.Unlock()
	for _, o := range matching {
		if err := stream.Send(o); err != nil {
			return err
		}
	}
	return nil
}

func (s *server) UploadLineItems(stream orderpb.OrderService_UploadLineItemsServer) error {
	summary := &orderpb.UploadSummary{}
	for i := 0; ; i++ {
		it, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(summary)
		}
		if err != nil {
			return err
		}
		if v := itemViolations(i, it); len(v) > 0 {
			return badRequest(fmt.Sprintf("invalid line item %d", i), v)
		}
		summary.ItemCount++
		summary.TotalQuantity += it.GetQuantity()
		summary.TotalAmount += float64(it.GetQuantity()) * it.GetUnitPrice()
	}
}

func (s *server) OrderChat(stream orderpb.OrderService_OrderChatServer) error {
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		reply := &orderpb.ChatMessage{OrderId: msg.GetOrderId(), Sender: "server", Text: "Echo: " + msg.GetText()}
		if err := stream.Send(reply); err != nil {
			return err
		}
	}
}

func main() {
	addr := flag.String("addr", common.DefaultAddr, "HOST:PORT to listen on (port 0 picks a free port)")
	flag.Parse()
	srv := grpc.NewServer(grpc.UnaryInterceptor(unaryInterceptor), grpc.StreamInterceptor(streamInterceptor))
	orderpb.RegisterOrderServiceServer(srv, newServer())
	common.Serve(srv, *addr, "order.OrderService")
}
