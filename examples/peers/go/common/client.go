package peercommon

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// CallTimeout is the deadline of every call unless a step says otherwise.
const CallTimeout = 5 * time.Second

// EchoKey and EchoValue are what a metadata check sends.
const (
	EchoKey   = "x-echo-check"
	EchoValue = "go-peer-check"
)

// ClientAddr accepts "HOST:PORT" and "http://HOST:PORT" (a trailing "/" too).
func ClientAddr(addr string) string {
	addr = strings.TrimPrefix(addr, "http://")
	return strings.TrimSuffix(addr, "/")
}

// Failure is a failed check: the step's name and what was expected and what came back.
type Failure struct {
	Step string
	Msg  string
}

// Steps runs a client's checks: one line per step on stdout, "FAILED <step>: ..." on stderr
// and exit 1 at the first failure, "all <N> steps passed" at the end.
type Steps struct{ passed int }

// Pass prints the line of a step that passed.
func (s *Steps) Pass(step, got string) {
	s.passed++
	fmt.Printf("%s: %s\n", step, got)
}

// Fail prints "FAILED <step>: <msg>" on stderr and exits 1.
func (s *Steps) Fail(step, format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAILED %s: %s\n", step, fmt.Sprintf(format, args...))
	os.Exit(1)
}

// Done prints "all <N> steps passed" and exits 0.
func (s *Steps) Done() {
	fmt.Printf("all %d steps passed\n", s.passed)
	os.Exit(0)
}

// Ctx is a context with the given deadline and the given request metadata pairs.
func Ctx(d time.Duration, kv ...string) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	if len(kv) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, kv...)
	}
	return ctx, cancel
}

// DescribeErr renders an error as "CODE: message".
func DescribeErr(err error) string {
	if err == nil {
		return "OK"
	}
	st := status.Convert(err)
	return fmt.Sprintf("%s: %q", CodeName(st.Code()), st.Message())
}

// CodeName is the canonical name of a status code (UNAVAILABLE, NOT_FOUND, ...).
func CodeName(c codes.Code) string {
	names := map[codes.Code]string{
		codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN",
		codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
		codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
		codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
		codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED",
		codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED",
		codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS",
		codes.Unauthenticated: "UNAUTHENTICATED",
	}
	if n, ok := names[c]; ok {
		return n
	}
	return fmt.Sprintf("CODE(%d)", uint32(c))
}

// ExpectCode checks that err carries the status code want; it returns the status.
func (s *Steps) ExpectCode(step string, err error, want codes.Code) *status.Status {
	if err == nil {
		s.Fail(step, "expected %s, got OK", CodeName(want))
	}
	st, ok := status.FromError(err)
	if !ok {
		s.Fail(step, "expected %s, got a non-gRPC error: %v", CodeName(want), err)
	}
	if st.Code() != want {
		s.Fail(step, "expected %s, got %s", CodeName(want), DescribeErr(err))
	}
	return st
}

// ExpectOK fails the step when err is not nil.
func (s *Steps) ExpectOK(step string, err error, what string) {
	if err != nil {
		s.Fail(step, "expected %s, got %s", what, DescribeErr(err))
	}
}

// CheckMetadata is the metadata check: the headers carry x-echo-check with the value sent and
// the trailers carry x-method with the method's name.
func (s *Steps) CheckMetadata(step string, header, trailer metadata.MD, method string) {
	if got := header.Get(EchoKey); len(got) != 1 || got[0] != EchoValue {
		s.Fail(step, "expected response header %s: %q, got %q", EchoKey, EchoValue, got)
	}
	if got := trailer.Get("x-method"); len(got) != 1 || got[0] != method {
		s.Fail(step, "expected trailer x-method: %q, got %q", method, got)
	}
}
