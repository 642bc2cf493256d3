#!/usr/bin/env node
'use strict';
/*
 * gRPC interop test client on @grpc/grpc-js, following
 * doc/interop-test-descriptions.md.
 *
 * Flags (--name=value or --name value):
 *   --server_host (default localhost)   --server_port (required)
 *   --test_case (required)              --use_tls=true|false (default false)
 *   --use_test_ca=true|false (default false; with TLS, trust --ca_file
 *     instead of the system roots)      --ca_file (default <certs>/ca.pem)
 *   --server_host_override=HOST (sets grpc.ssl_target_name_override and
 *     grpc.default_authority)
 *   --proto_include=DIR (default /usr/share/grpc-proto)
 *
 * Cases: empty_unary, large_unary, client_streaming, server_streaming,
 * ping_pong, empty_stream, custom_metadata, status_code_and_message,
 * special_status_message, unimplemented_method, unimplemented_service,
 * cancel_after_begin, cancel_after_first_response,
 * timeout_on_sleeping_server, client_compressed_unary,
 * client_compressed_streaming.
 *
 * Compression cases:
 * - client_compressed_unary / client_compressed_streaming ARE implemented:
 *   grpc-js compresses every message of a channel created with
 *   grpc.default_compression_algorithm=gzip, unless the message is written
 *   with write flag NoCompress (2), which streaming calls accept per message
 *   (call.write(msg, 2)). So the uncompressed probe and the uncompressed unary
 *   call go over a plain channel, the compressed unary call over a gzip
 *   channel, and the streaming call sends its first message compressed and
 *   its second uncompressed on the gzip channel. Whether the flag really was
 *   set is checked by the server (expect_compressed), as the spec intends.
 * - server_compressed_unary / server_compressed_streaming print N/A and exit
 *   3: grpc-js decompresses received messages inside its channel stack and
 *   does not expose the per-message compressed flag (nor does it tell the
 *   application which algorithm a response used), so the client cannot check
 *   what those cases exist to check.
 *
 * Output: "PASS <case>" (exit 0), "FAIL <case>: <reason>" (exit 1),
 * "N/A: <reason>" (exit 3). Every call has a deadline.
 */

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const { DEFAULT_CERTS_DIR, parseFlags, parseBool, loadTesting } = require('./common');

const CALL_TIMEOUT_MS = 20000;
const OVERALL_TIMEOUT_MS = 60000;
const WRITE_FLAG_NO_COMPRESS = 2; // grpc-js WriteFlags.NoCompress
const ECHO_INITIAL_KEY = 'x-grpc-test-echo-initial';
const ECHO_INITIAL_VALUE = 'test_initial_metadata_value';
const ECHO_TRAILING_KEY = 'x-grpc-test-echo-trailing-bin';
const ECHO_TRAILING_VALUE = Buffer.from([0xab, 0xab, 0xab]);

class TestFailure extends Error {}
class NotApplicable extends Error {}

function fail(message) {
  throw new TestFailure(message);
}

function check(condition, message) {
  if (!condition) fail(message);
}

// ---------------------------------------------------------------- flags


// ---------------------------------------------------------------- call helpers
function deadline(ms = CALL_TIMEOUT_MS) {
  return new Date(Date.now() + ms);
}

function zeros(n) {
  return Buffer.alloc(n);
}

function describeStatus(s) {
  if (!s) return 'no status';
  const name = Object.keys(grpc.status).find((k) => grpc.status[k] === s.code) || '?';
  return `${s.code} (${name}) "${s.details}"`;
}

/*
 * Runs a unary call and waits for its callback and its final status.
 * Resolves { error, response, initialMetadata, status }.
 */
function unary(client, method, request, metadata, options) {
  return new Promise((resolve) => {
    const result = { error: null, response: null, initialMetadata: null, status: null };
    let outstanding = 2;
    const done = () => { if (--outstanding === 0) resolve(result); };
    const call = client[method](request, metadata || new grpc.Metadata(),
      Object.assign({ deadline: deadline() }, options || {}),
      (err, response) => {
        result.error = err || null;
        result.response = response || null;
        done();
      });
    call.on('metadata', (md) => { result.initialMetadata = md; });
    call.on('status', (st) => { result.status = st; done(); });
  });
}

/*
 * Collects what a streaming call delivers: messages in order (next()), the
 * initial metadata and the final status.
 */
class StreamReader {
  constructor(call) {
    this.call = call;
    this.queue = [];
    this.waiters = [];
    this.ended = false;
    this.initialMetadata = null;
    this.status = new Promise((resolve) => call.on('status', resolve));
    call.on('metadata', (md) => { this.initialMetadata = md; });
    call.on('data', (m) => this._push({ message: m }));
    call.on('end', () => this._push({ end: true }));
    // Non-OK statuses arrive as 'error' too; the status itself is read from
    // the 'status' event, this only ends the message sequence.
    call.on('error', (e) => this._push({ end: true, error: e }));
  }

  _push(item) {
    if (this.ended) return;
    if (item.end) this.ended = true;
    const w = this.waiters.shift();
    if (w) w(item);
    else this.queue.push(item);
  }

  /* Resolves the next message, or null once the stream has ended. */
  next() {
    const item = this.queue.length > 0 ? this.queue.shift()
      : null;
    if (item) return Promise.resolve(item.end ? null : item.message);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push(resolve))
      .then((it) => (it.end ? null : it.message));
  }

  /* Reads every remaining message; resolves the list. */
  async rest() {
    const out = [];
    for (;;) {
      const m = await this.next();
      if (m === null) return out;
      out.push(m);
    }
  }
}

function writeAsync(call, message, flags) {
  return new Promise((resolve, reject) => {
    const cb = (err) => (err ? reject(err) : resolve());
    if (flags === undefined) call.write(message, cb);
    else call.write(message, flags, cb);
  });
}

function expectOk(status, what) {
  check(status && status.code === grpc.status.OK,
    `${what}: expected status OK, got ${describeStatus(status)}`);
}

function checkPayload(payload, size, what) {
  check(payload, `${what}: response has no payload`);
  check(payload.type === 'COMPRESSABLE',
    `${what}: payload type ${payload.type}, expected COMPRESSABLE`);
  const body = payload.body || Buffer.alloc(0);
  check(body.length === size,
    `${what}: payload body is ${body.length} bytes, expected ${size}`);
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== 0) fail(`${what}: payload body byte ${i} is ${body[i]}, expected 0`);
  }
}

function largeUnaryRequest() {
  return {
    response_type: 'COMPRESSABLE',
    response_size: 314159,
    payload: { type: 'COMPRESSABLE', body: zeros(271828) },
  };
}

function echoRequestMetadata() {
  const md = new grpc.Metadata();
  md.set(ECHO_INITIAL_KEY, ECHO_INITIAL_VALUE);
  md.set(ECHO_TRAILING_KEY, ECHO_TRAILING_VALUE);
  return md;
}

function checkEchoMetadata(initial, trailing, what) {
  check(initial, `${what}: no initial metadata received`);
  const iv = initial.get(ECHO_INITIAL_KEY);
  check(iv.length === 1 && iv[0] === ECHO_INITIAL_VALUE,
    `${what}: initial metadata ${ECHO_INITIAL_KEY} = ${JSON.stringify(iv)}, expected "${ECHO_INITIAL_VALUE}"`);
  check(trailing, `${what}: no trailing metadata received`);
  const tv = trailing.get(ECHO_TRAILING_KEY);
  check(tv.length === 1 && Buffer.isBuffer(tv[0]) && tv[0].equals(ECHO_TRAILING_VALUE),
    `${what}: trailing metadata ${ECHO_TRAILING_KEY} = ${tv.map((v) => (Buffer.isBuffer(v) ? v.toString('hex') : String(v)))}, expected ababab`);
}

// ---------------------------------------------------------------- cases
const cases = {};

cases.empty_unary = async (ctx) => {
  const r = await unary(ctx.stub, 'EmptyCall', {});
  expectOk(r.status, 'EmptyCall');
  check(r.response !== null && typeof r.response === 'object', 'EmptyCall: response is null');
  check(Object.keys(r.response).length === 0,
    `EmptyCall: response is not an empty message: ${JSON.stringify(r.response)}`);
};

cases.large_unary = async (ctx) => {
  const r = await unary(ctx.stub, 'UnaryCall', largeUnaryRequest());
  expectOk(r.status, 'UnaryCall');
  check(r.response, 'UnaryCall: no response');
  checkPayload(r.response.payload, 314159, 'UnaryCall');
};

cases.client_streaming = async (ctx) => {
  const result = {};
  const finished = new Promise((resolve) => {
    const call = ctx.stub.StreamingInputCall(new grpc.Metadata(), { deadline: deadline() },
      (err, response) => { result.error = err; result.response = response; });
    call.on('status', (st) => { result.status = st; resolve(); });
    result.call = call;
  });
  for (const size of [27182, 8, 1828, 45904]) {
    await writeAsync(result.call, { payload: { type: 'COMPRESSABLE', body: zeros(size) } });
  }
  result.call.end();
  await finished;
  expectOk(result.status, 'StreamingInputCall');
  check(result.response, 'StreamingInputCall: no response');
  check(result.response.aggregated_payload_size === 74922,
    `StreamingInputCall: aggregated_payload_size ${result.response.aggregated_payload_size}, expected 74922`);
};

cases.server_streaming = async (ctx) => {
  const sizes = [31415, 9, 2653, 58979];
  const call = ctx.stub.StreamingOutputCall({
    response_type: 'COMPRESSABLE',
    response_parameters: sizes.map((size) => ({ size })),
  }, new grpc.Metadata(), { deadline: deadline() });
  const reader = new StreamReader(call);
  const messages = await reader.rest();
  const status = await reader.status;
  expectOk(status, 'StreamingOutputCall');
  check(messages.length === sizes.length,
    `StreamingOutputCall: got ${messages.length} responses, expected ${sizes.length}`);
  messages.forEach((m, i) => checkPayload(m.payload, sizes[i], `StreamingOutputCall response ${i}`));
};

cases.ping_pong = async (ctx) => {
  const requestSizes = [27182, 8, 1828, 45904];
  const responseSizes = [31415, 9, 2653, 58979];
  const call = ctx.stub.FullDuplexCall(new grpc.Metadata(), { deadline: deadline() });
  const reader = new StreamReader(call);
  for (let i = 0; i < requestSizes.length; i++) {
    await writeAsync(call, {
      response_type: 'COMPRESSABLE',
      response_parameters: [{ size: responseSizes[i] }],
      payload: { type: 'COMPRESSABLE', body: zeros(requestSizes[i]) },
    });
    const m = await reader.next();
    if (m === null) {
      fail(`FullDuplexCall: stream ended before response ${i}: ${describeStatus(await reader.status)}`);
    }
    checkPayload(m.payload, responseSizes[i], `FullDuplexCall response ${i}`);
  }
  call.end();
  const extra = await reader.rest();
  const status = await reader.status;
  expectOk(status, 'FullDuplexCall');
  check(extra.length === 0, `FullDuplexCall: ${extra.length} unexpected extra responses`);
};

cases.empty_stream = async (ctx) => {
  const call = ctx.stub.FullDuplexCall(new grpc.Metadata(), { deadline: deadline() });
  const reader = new StreamReader(call);
  call.end();
  const messages = await reader.rest();
  const status = await reader.status;
  expectOk(status, 'FullDuplexCall');
  check(messages.length === 0, `FullDuplexCall: got ${messages.length} responses, expected 0`);
};

cases.custom_metadata = async (ctx) => {
  // Step 1: UnaryCall.
  const r = await unary(ctx.stub, 'UnaryCall', largeUnaryRequest(), echoRequestMetadata());
  expectOk(r.status, 'UnaryCall');
  checkPayload(r.response && r.response.payload, 314159, 'UnaryCall');
  checkEchoMetadata(r.initialMetadata, r.status.metadata, 'UnaryCall');

  // Step 2: FullDuplexCall.
  const call = ctx.stub.FullDuplexCall(echoRequestMetadata(), { deadline: deadline() });
  const reader = new StreamReader(call);
  await writeAsync(call, {
    response_type: 'COMPRESSABLE',
    response_parameters: [{ size: 314159 }],
    payload: { type: 'COMPRESSABLE', body: zeros(271828) },
  });
  call.end();
  const messages = await reader.rest();
  const status = await reader.status;
  expectOk(status, 'FullDuplexCall');
  check(messages.length === 1, `FullDuplexCall: got ${messages.length} responses, expected 1`);
  checkPayload(messages[0].payload, 314159, 'FullDuplexCall');
  checkEchoMetadata(reader.initialMetadata, status.metadata, 'FullDuplexCall');
};

async function checkEchoStatus(ctx, code, message, withDuplex) {
  const r = await unary(ctx.stub, 'UnaryCall', { response_status: { code, message } });
  check(r.status && r.status.code === code && r.status.details === message,
    `UnaryCall: expected status ${code} ${JSON.stringify(message)}, got ${r.status ? `${r.status.code} ${JSON.stringify(r.status.details)}` : 'none'}`);
  if (!withDuplex) return;
  const call = ctx.stub.FullDuplexCall(new grpc.Metadata(), { deadline: deadline() });
  const reader = new StreamReader(call);
  await writeAsync(call, { response_status: { code, message } }).catch(() => {});
  call.end();
  await reader.rest();
  const status = await reader.status;
  check(status && status.code === code && status.details === message,
    `FullDuplexCall: expected status ${code} ${JSON.stringify(message)}, got ${status ? `${status.code} ${JSON.stringify(status.details)}` : 'none'}`);
}

cases.status_code_and_message = (ctx) => checkEchoStatus(ctx, 2, 'test status message', true);

cases.special_status_message = (ctx) => checkEchoStatus(ctx, 2,
  '\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \u{1F608}\t\n', false);

cases.unimplemented_method = async (ctx) => {
  const r = await unary(ctx.stub, 'UnimplementedCall', {});
  check(r.status && r.status.code === grpc.status.UNIMPLEMENTED,
    `TestService/UnimplementedCall: expected UNIMPLEMENTED, got ${describeStatus(r.status)}`);
};

cases.unimplemented_service = async (ctx) => {
  const r = await unary(ctx.unimplementedStub, 'UnimplementedCall', {});
  check(r.status && r.status.code === grpc.status.UNIMPLEMENTED,
    `UnimplementedService/UnimplementedCall: expected UNIMPLEMENTED, got ${describeStatus(r.status)}`);
};

function waitReady(client) {
  return new Promise((resolve, reject) => {
    client.waitForReady(deadline(), (err) => (err ? reject(new TestFailure(`channel not ready: ${err.message}`)) : resolve()));
  });
}

cases.cancel_after_begin = async (ctx) => {
  // Connect first, so the call's headers can go out before the cancel.
  await waitReady(ctx.stub);
  let status;
  const finished = new Promise((resolve) => {
    const call = ctx.stub.StreamingInputCall(new grpc.Metadata(), { deadline: deadline() },
      () => {});
    call.on('status', (st) => { status = st; resolve(); });
    call.cancel();
  });
  await finished;
  check(status.code === grpc.status.CANCELLED,
    `StreamingInputCall: expected CANCELLED, got ${describeStatus(status)}`);
};

cases.cancel_after_first_response = async (ctx) => {
  const call = ctx.stub.FullDuplexCall(new grpc.Metadata(), { deadline: deadline() });
  const reader = new StreamReader(call);
  await writeAsync(call, {
    response_type: 'COMPRESSABLE',
    response_parameters: [{ size: 31415 }],
    payload: { type: 'COMPRESSABLE', body: zeros(27182) },
  });
  const m = await reader.next();
  if (m === null) {
    fail(`FullDuplexCall: stream ended before the first response: ${describeStatus(await reader.status)}`);
  }
  checkPayload(m.payload, 31415, 'FullDuplexCall response 0');
  call.cancel();
  const status = await reader.status;
  check(status.code === grpc.status.CANCELLED,
    `FullDuplexCall: expected CANCELLED, got ${describeStatus(status)}`);
};

cases.timeout_on_sleeping_server = async (ctx) => {
  const call = ctx.stub.FullDuplexCall(new grpc.Metadata(), { deadline: new Date(Date.now() + 1) });
  const reader = new StreamReader(call);
  // The write may fail once the deadline has passed; that is expected.
  call.write({ payload: { type: 'COMPRESSABLE', body: zeros(27182) } }, () => {});
  const status = await reader.status;
  check(status.code === grpc.status.DEADLINE_EXCEEDED,
    `FullDuplexCall: expected DEADLINE_EXCEEDED, got ${describeStatus(status)}`);
};

cases.client_compressed_unary = async (ctx) => {
  const request = (expectCompressed) => Object.assign(largeUnaryRequest(),
    { expect_compressed: { value: expectCompressed } });

  // 1. Feature probe: an uncompressed message (plain channel) that claims to
  //    be compressed must be rejected with INVALID_ARGUMENT.
  const probe = await unary(ctx.stub, 'UnaryCall', request(true));
  check(probe.status && probe.status.code === grpc.status.INVALID_ARGUMENT,
    `probe (uncompressed, expect_compressed=true): expected INVALID_ARGUMENT, got ${describeStatus(probe.status)}; the server does not support CompressedRequest`);

  // 2. Compressed message (gzip channel).
  const compressed = await unary(ctx.gzipStub, 'UnaryCall', request(true));
  expectOk(compressed.status, 'UnaryCall (compressed, expect_compressed=true)');
  checkPayload(compressed.response.payload, 314159, 'UnaryCall (compressed)');

  // 3. Uncompressed message (plain channel).
  const plain = await unary(ctx.stub, 'UnaryCall', request(false));
  expectOk(plain.status, 'UnaryCall (uncompressed, expect_compressed=false)');
  checkPayload(plain.response.payload, 314159, 'UnaryCall (uncompressed)');
};

function streamingInput(stub) {
  const result = {};
  result.done = new Promise((resolve) => {
    result.call = stub.StreamingInputCall(new grpc.Metadata(), { deadline: deadline() },
      (err, response) => { result.error = err; result.response = response; });
    result.call.on('status', (st) => { result.status = st; resolve(); });
  });
  return result;
}

cases.client_compressed_streaming = async (ctx) => {
  // 1. Feature probe on the plain channel.
  const probe = streamingInput(ctx.stub);
  await writeAsync(probe.call, {
    expect_compressed: { value: true },
    payload: { type: 'COMPRESSABLE', body: zeros(27182) },
  }).catch(() => {});
  probe.call.end();
  await probe.done;
  check(probe.status.code === grpc.status.INVALID_ARGUMENT,
    `probe (uncompressed, expect_compressed=true): expected INVALID_ARGUMENT, got ${describeStatus(probe.status)}; the server does not support CompressedRequest`);

  // 2. One call on the gzip channel: first message compressed, second one
  //    written with NoCompress.
  const s = streamingInput(ctx.gzipStub);
  await writeAsync(s.call, {
    expect_compressed: { value: true },
    payload: { type: 'COMPRESSABLE', body: zeros(27182) },
  });
  await writeAsync(s.call, {
    expect_compressed: { value: false },
    payload: { type: 'COMPRESSABLE', body: zeros(45904) },
  }, WRITE_FLAG_NO_COMPRESS);
  s.call.end();
  await s.done;
  expectOk(s.status, 'StreamingInputCall (compressed + uncompressed)');
  check(s.response && s.response.aggregated_payload_size === 73086,
    `StreamingInputCall: aggregated_payload_size ${s.response && s.response.aggregated_payload_size}, expected 73086`);
};

const NOT_APPLICABLE = {
  server_compressed_unary: 'grpc-js does not expose the compressed flag of received messages, so the client cannot verify that response_compressed is obeyed',
  server_compressed_streaming: 'grpc-js does not expose the compressed flag of received messages, so the client cannot verify that ResponseParameters.compressed is obeyed',
};

// ---------------------------------------------------------------- main
let verdictGiven = false;

function finish(line, code) {
  if (verdictGiven) return;
  verdictGiven = true;
  process.stdout.write(`${line}\n`, () => process.exit(code));
}

// Should the event loop ever drain without a verdict, never exit 0 silently.
process.on('exit', (code) => {
  if (!verdictGiven && code === 0) {
    process.stdout.write('FAIL: client ended without a verdict\n');
    process.exitCode = 1;
  }
});

async function main() {
  let flags;
  let useTls;
  let useTestCa;
  try {
    flags = parseFlags(process.argv.slice(2));
    useTls = parseBool('use_tls', flags.use_tls);
    useTestCa = parseBool('use_test_ca', flags.use_test_ca);
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
  const testCase = flags.test_case;
  if (!testCase) {
    console.error('--test_case is required');
    process.exit(2);
  }
  if (NOT_APPLICABLE[testCase]) {
    finish(`N/A: ${NOT_APPLICABLE[testCase]}`, 3);
    return;
  }
  if (!cases[testCase]) {
    finish('N/A: unknown test case', 3);
    return;
  }
  const host = flags.server_host || 'localhost';
  const port = Number(flags.server_port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error(`invalid or missing --server_port: ${flags.server_port}`);
    process.exit(2);
  }

  let creds;
  if (useTls) {
    let rootCerts = null;
    if (useTestCa) {
      rootCerts = fs.readFileSync(flags.ca_file || path.join(DEFAULT_CERTS_DIR, 'ca.pem'));
    }
    creds = grpc.credentials.createSsl(rootCerts);
  } else {
    creds = grpc.credentials.createInsecure();
  }
  const options = {};
  if (flags.server_host_override) {
    options['grpc.ssl_target_name_override'] = flags.server_host_override;
    options['grpc.default_authority'] = flags.server_host_override;
  }
  const target = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;

  const testing = loadTesting(flags.proto_include);

  const ctx = {
    stub: new testing.TestService(target, creds, options),
    unimplementedStub: new testing.UnimplementedService(target, creds, options),
  };
  if (testCase.startsWith('client_compressed_')) {
    ctx.gzipStub = new testing.TestService(target, creds, Object.assign({}, options, {
      'grpc.default_compression_algorithm': grpc.compressionAlgorithms.gzip,
    }));
  }

  const watchdog = setTimeout(() => {
    finish(`FAIL ${testCase}: overall timeout of ${OVERALL_TIMEOUT_MS} ms exceeded`, 1);
  }, OVERALL_TIMEOUT_MS);
  void watchdog; // kept referenced: the process must not exit without a verdict

  try {
    await cases[testCase](ctx);
  } catch (e) {
    if (e instanceof NotApplicable) {
      finish(`N/A: ${e.message}`, 3);
    } else if (e instanceof TestFailure) {
      finish(`FAIL ${testCase}: ${e.message}`, 1);
    } else {
      finish(`FAIL ${testCase}: unexpected error: ${e && e.stack ? e.stack : e}`, 1);
    }
    return;
  }
  finish(`PASS ${testCase}`, 0);
}

main();
