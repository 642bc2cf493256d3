#!/usr/bin/env node
'use strict';
/*
 * gRPC interop test server (grpc.testing.TestService) on @grpc/grpc-js.
 *
 * Implements the server features of doc/interop-test-descriptions.md:
 * EmptyCall, UnaryCall, CacheableUnaryCall, StreamingOutputCall,
 * StreamingInputCall, FullDuplexCall, HalfDuplexCall, Echo Status, Echo
 * Metadata and ResponseParameters.interval_us. UnimplementedCall is left out
 * on purpose, so grpc-js answers it with UNIMPLEMENTED (as it does for the
 * whole grpc.testing.UnimplementedService, which is not registered).
 *
 * Compression: what grpc-js (1.14) cannot do, and what this server does
 * ----------------------------------------------------------------------
 * - CompressedRequest (`expect_compressed` in SimpleRequest and
 *   StreamingInputCallRequest): the spec wants the server to fail the RPC
 *   with INVALID_ARGUMENT when the request message's compressed flag does not
 *   match. grpc-js decompresses incoming messages before the handler sees them
 *   and exposes neither the per-message compressed flag (the first byte of
 *   the gRPC frame) nor any other per-message indication. The `grpc-encoding`
 *   request header only names the stream's algorithm: a client may still
 *   send single messages uncompressed under `grpc-encoding: gzip` (the C++
 *   client does exactly that in client_compressed_streaming), so the header is
 *   no substitute. This check is therefore IMPOSSIBLE here, and the server
 *   IGNORES `expect_compressed` (true or false) and never fails a call
 *   because of it. Consequently the "feature probe" of client_compressed_unary
 *   and client_compressed_streaming (an uncompressed message claiming
 *   expect_compressed=true) succeeds instead of failing with INVALID_ARGUMENT,
 *   which tells an interop client that this server does not support
 *   CompressedRequest (the C++ client logs "probe failed" and skips; a strict
 *   client reports a failure). Compressed requests (gzip/deflate) are still
 *   accepted and decompressed normally.
 * - CompressedResponse (`response_compressed` in SimpleRequest and
 *   `ResponseParameters.compressed` in StreamingOutputCall/FullDuplexCall/
 *   HalfDuplexCall): the grpc-js server never compresses a response message
 *   (it always writes compressed-flag 0 and `grpc-encoding: identity`) and
 *   offers no per-message or per-call switch to do so. Honouring a request
 *   for a compressed response is therefore IMPOSSIBLE. Rather than silently
 *   sending an uncompressed message where a compressed one was asked for
 *   (which a client that cannot inspect the flag would wrongly count as a
 *   pass), the server fails such an RPC with UNIMPLEMENTED and a message that
 *   says why, before sending any response message. A value of false (or an
 *   absent field) is honoured trivially: every response is uncompressed.
 *
 * Other notes
 * - Echo Status: a request whose response_status has a non-zero code ends the
 *   RPC with that code and message (UnaryCall, StreamingOutputCall,
 *   FullDuplexCall, HalfDuplexCall); later messages are not processed. A zero
 *   code is treated like an absent response_status.
 * - Echo Metadata: on every method, the first value of
 *   x-grpc-test-echo-initial goes back in the response headers and the first
 *   value of x-grpc-test-echo-trailing-bin in the trailers, also when the RPC
 *   ends with an error status.
 * - response_type must be COMPRESSABLE (the only value the proto defines);
 *   anything else, and a negative size, fails with INVALID_ARGUMENT.
 * - fill_username / fill_oauth_scope / fill_server_id / fill_grpclb_route_type
 *   and the ORCA fields are ignored (no auth, no load reporting here).
 *
 * Flags: --port=N | --port N (default 0 = any free port), --use_tls=true|false,
 *        --certs_dir=DIR (server1.pem / server1.key; default below),
 *        --proto_include=DIR (default /usr/share/grpc-proto).
 * Binds 127.0.0.1 only. Prints "listening on 127.0.0.1:N" once bound. Exits
 * cleanly on SIGTERM / SIGINT.
 */

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const { DEFAULT_CERTS_DIR, parseFlags, parseBool, loadTesting } = require('./common');

const ECHO_INITIAL_KEY = 'x-grpc-test-echo-initial';
const ECHO_TRAILING_KEY = 'x-grpc-test-echo-trailing-bin';

// ---------------------------------------------------------------- flags


// ---------------------------------------------------------------- helpers
function statusError(code, details, trailers) {
  const err = new Error(details);
  err.code = code;
  err.details = details;
  if (trailers) err.metadata = trailers;
  return err;
}

/* Builds the echo metadata for a call from its request metadata. */
function echoMetadata(requestMetadata) {
  const initial = new grpc.Metadata();
  const trailing = new grpc.Metadata();
  const init = requestMetadata.get(ECHO_INITIAL_KEY);
  if (init.length > 0) initial.set(ECHO_INITIAL_KEY, init[0]);
  const trail = requestMetadata.get(ECHO_TRAILING_KEY);
  if (trail.length > 0) trailing.set(ECHO_TRAILING_KEY, trail[0]);
  return { initial, trailing, hasInitial: init.length > 0 };
}

/* Returns a status error if the request cannot be served, else null. */
function checkPayloadRequest(responseType, size) {
  if (responseType !== 'COMPRESSABLE') {
    return statusError(grpc.status.INVALID_ARGUMENT,
      `unsupported response_type ${responseType}`);
  }
  if (!Number.isInteger(size) || size < 0) {
    return statusError(grpc.status.INVALID_ARGUMENT,
      `invalid response size ${size}`);
  }
  return null;
}

function makePayload(size) {
  return { type: 'COMPRESSABLE', body: Buffer.alloc(size) };
}

function echoStatusOf(request) {
  const st = request.response_status;
  if (st && st.code !== 0) {
    return { code: st.code, message: st.message || '' };
  }
  return null;
}

const RESPONSE_COMPRESSION_UNSUPPORTED =
  'compressed responses were requested, but the grpc-js server cannot ' +
  'compress response messages';

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/*
 * Writes one message to a server streaming call, waiting until grpc-js has
 * taken it (backpressure). Resolves false if the call got cancelled first.
 */
function writeMessage(call, message) {
  if (call.cancelled) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onCancel = () => resolve(false);
    call.once('cancelled', onCancel);
    call.write(message, (err) => {
      call.removeListener('cancelled', onCancel);
      resolve(!err && !call.cancelled);
    });
  });
}

/*
 * Sends the responses asked for by one StreamingOutputCallRequest, honouring
 * interval_us as a sleep before each response. Returns a status error to end
 * the call with, or null.
 */
async function serveOutputRequest(call, request) {
  const params = request.response_parameters || [];
  for (const p of params) {
    if (p.compressed && p.compressed.value) {
      return statusError(grpc.status.UNIMPLEMENTED, RESPONSE_COMPRESSION_UNSUPPORTED);
    }
    const bad = checkPayloadRequest(request.response_type, p.size);
    if (bad) return bad;
  }
  for (const p of params) {
    if (p.interval_us > 0) {
      await sleep(p.interval_us / 1000);
    }
    if (call.cancelled) return null;
    const ok = await writeMessage(call, { payload: makePayload(p.size) });
    if (!ok) return null;
  }
  return null;
}

/* Ends a server streaming call with an error status and the echo trailers. */
function failStream(call, err, trailing) {
  if (call.cancelled || call.__finished) return;
  call.__finished = true;
  err.metadata = trailing;
  call.emit('error', err);
}

function finishStream(call, trailing) {
  if (call.cancelled || call.__finished) return;
  call.__finished = true;
  call.end(trailing);
}

// ---------------------------------------------------------------- handlers
function emptyCall(call, callback) {
  const echo = echoMetadata(call.metadata);
  if (echo.hasInitial) call.sendMetadata(echo.initial);
  callback(null, {}, echo.trailing);
}

function unaryCall(call, callback) {
  const req = call.request;
  const echo = echoMetadata(call.metadata);
  if (echo.hasInitial) call.sendMetadata(echo.initial);
  const st = echoStatusOf(req);
  if (st) {
    callback(statusError(st.code, st.message), null, echo.trailing);
    return;
  }
  // expect_compressed is deliberately ignored: see the comment at the top.
  if (req.response_compressed && req.response_compressed.value) {
    callback(statusError(grpc.status.UNIMPLEMENTED, RESPONSE_COMPRESSION_UNSUPPORTED),
      null, echo.trailing);
    return;
  }
  const bad = checkPayloadRequest(req.response_type, req.response_size);
  if (bad) {
    callback(bad, null, echo.trailing);
    return;
  }
  callback(null, { payload: makePayload(req.response_size) }, echo.trailing);
}

function cacheableUnaryCall(call, callback) {
  const echo = echoMetadata(call.metadata);
  echo.initial.set('cache-control', 'max-age=60, public');
  call.sendMetadata(echo.initial);
  // Wall-clock time in nanoseconds (ms from Date.now, sub-ms from hrtime).
  const now = BigInt(Date.now()) * 1000000n + (process.hrtime.bigint() % 1000000n);
  callback(null, {
    payload: { type: 'COMPRESSABLE', body: Buffer.from(now.toString(), 'ascii') },
  }, echo.trailing);
}

function streamingOutputCall(call) {
  const req = call.request;
  const echo = echoMetadata(call.metadata);
  if (echo.hasInitial) call.sendMetadata(echo.initial);
  const st = echoStatusOf(req);
  if (st) {
    failStream(call, statusError(st.code, st.message), echo.trailing);
    return;
  }
  serveOutputRequest(call, req).then((err) => {
    if (err) failStream(call, err, echo.trailing);
    else finishStream(call, echo.trailing);
  }, (e) => failStream(call, statusError(grpc.status.INTERNAL, String(e)), echo.trailing));
}

function streamingInputCall(call, callback) {
  const echo = echoMetadata(call.metadata);
  if (echo.hasInitial) call.sendMetadata(echo.initial);
  let total = 0;
  let done = false;
  call.on('data', (req) => {
    // expect_compressed is deliberately ignored: see the comment at the top.
    if (req.payload && req.payload.body) total += req.payload.body.length;
  });
  call.on('end', () => {
    if (done || call.cancelled) return;
    done = true;
    callback(null, { aggregated_payload_size: total }, echo.trailing);
  });
  call.on('error', () => { done = true; });
}

/*
 * FullDuplexCall serves each request as it arrives, in order; HalfDuplexCall
 * (buffered = true) keeps every request until the client half-closes and
 * serves them afterwards.
 */
function duplexHandler(buffered) {
  return function duplexCall(call) {
    const echo = echoMetadata(call.metadata);
    if (echo.hasInitial) call.sendMetadata(echo.initial);
    const pending = [];
    let halfClosed = false;
    let running = false;
    let stopped = false;

    const stop = () => { stopped = true; };
    call.on('cancelled', stop);
    call.on('error', stop);

    async function drain() {
      if (running) return;
      running = true;
      try {
        while (!stopped && pending.length > 0) {
          const req = pending.shift();
          const st = echoStatusOf(req);
          if (st) {
            stopped = true;
            failStream(call, statusError(st.code, st.message), echo.trailing);
            return;
          }
          const err = await serveOutputRequest(call, req);
          if (err) {
            stopped = true;
            failStream(call, err, echo.trailing);
            return;
          }
        }
        if (!stopped && halfClosed && pending.length === 0) {
          stopped = true;
          finishStream(call, echo.trailing);
        }
      } catch (e) {
        stopped = true;
        failStream(call, statusError(grpc.status.INTERNAL, String(e)), echo.trailing);
      } finally {
        running = false;
      }
      // More may have arrived (or the half-close) while the last write ran.
      if (!stopped && (pending.length > 0 || halfClosed)) drain();
    }

    call.on('data', (req) => {
      if (stopped) return;
      pending.push(req);
      if (!buffered) drain();
    });
    call.on('end', () => {
      halfClosed = true;
      if (!stopped) drain();
    });
  };
}

// ---------------------------------------------------------------- main
function main() {
  let flags;
  try {
    flags = parseFlags(process.argv.slice(2));
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
  const port = flags.port === undefined ? 0 : Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`invalid --port ${flags.port}`);
    process.exit(2);
  }
  let useTls;
  try {
    useTls = parseBool('use_tls', flags.use_tls);
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
  const certsDir = flags.certs_dir || DEFAULT_CERTS_DIR;
  const testService = loadTesting(flags.proto_include).TestService.service;

  const server = new grpc.Server();
  server.addService(testService, {
    EmptyCall: emptyCall,
    UnaryCall: unaryCall,
    CacheableUnaryCall: cacheableUnaryCall,
    StreamingOutputCall: streamingOutputCall,
    StreamingInputCall: streamingInputCall,
    FullDuplexCall: duplexHandler(false),
    HalfDuplexCall: duplexHandler(true),
    // UnimplementedCall intentionally not implemented -> UNIMPLEMENTED.
  });

  let creds;
  if (useTls) {
    const cert = fs.readFileSync(path.join(certsDir, 'server1.pem'));
    const key = fs.readFileSync(path.join(certsDir, 'server1.key'));
    creds = grpc.ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }], false);
  } else {
    creds = grpc.ServerCredentials.createInsecure();
  }

  server.bindAsync(`127.0.0.1:${port}`, creds, (err, boundPort) => {
    if (err) {
      console.error(`failed to bind 127.0.0.1:${port}: ${err.message}`);
      process.exit(1);
    }
    console.log(`listening on 127.0.0.1:${boundPort}`);
  });

  let shuttingDown = false;
  const shutdown = (signal) => {
    if (shuttingDown) return;
    shuttingDown = true;
    const force = setTimeout(() => {
      server.forceShutdown();
      process.exit(0);
    }, 2000);
    force.unref();
    server.tryShutdown(() => {
      clearTimeout(force);
      process.exit(0);
    });
    void signal;
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main();
