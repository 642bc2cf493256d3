// What the Node peers share (see ../../README.md, "What every program does"): the command
// line, loading a contract's .proto at run time, the metadata echo and the `x-method`
// trailer every server sets, google.rpc.Status details, serving (with grpc.health.v1.Health
// and server reflection next to the contract's service) until SIGTERM or Ctrl-C, and, for
// the clients, promise-returning calls and checked, printed steps.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');
const { HealthImplementation, protoPath: HEALTH_PROTO } = require('grpc-health-check');
const { ReflectionService } = require('@grpc/reflection');

const DEFAULT_ADDR = '127.0.0.1:50051';
const EXAMPLES = path.resolve(__dirname, '..', '..');
const REPO = path.resolve(EXAMPLES, '..');
const ECHO_PREFIX = 'x-echo-';
const ECHO_KEY = 'x-echo-check';
const ECHO_VALUE = 'wirecall';
const DEADLINE_MS = 5000;

// ---------------------------------------------------------------------------------------
// Command line and protos

/** `--addr HOST:PORT` (or `--addr=HOST:PORT`), without an `http://` scheme. */
function addrArg() {
  const argv = process.argv.slice(2);
  let addr = DEFAULT_ADDR;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--addr' && i + 1 < argv.length) {
      addr = argv[++i];
    } else if (arg.startsWith('--addr=')) {
      addr = arg.slice('--addr='.length);
    } else {
      console.error(`usage: node ${path.basename(process.argv[1])} [--addr HOST:PORT]`);
      process.exit(2);
    }
  }
  return addr.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

const LOAD_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

/** The package definition each loaded service came from (its `.service`), for reflection. */
const definitionOf = new Map();

/** The gRPC objects of `examples/<relPath>`, loaded the way the tutorials do it. */
function loadProto(relPath) {
  const file = path.join(EXAMPLES, relPath);
  const definition = protoLoader.loadSync(file, {
    ...LOAD_OPTIONS,
    // user.proto imports google/api/annotations.proto, bundled by wirecall-build.
    includeDirs: [path.dirname(file), path.join(REPO, 'wirecall-build', 'proto')],
  });
  for (const value of Object.values(definition)) {
    if (value && !('format' in value)) definitionOf.set(value, definition);
  }
  return grpc.loadPackageDefinition(definition);
}

/** The name of a status code: `NOT_FOUND` for 5. */
function codeName(code) {
  const name = Object.keys(grpc.status).find((k) => grpc.status[k] === code);
  return name === undefined ? `code ${code}` : name;
}

// ---------------------------------------------------------------------------------------
// google.rpc.Status in `grpc-status-details-bin`

const rpcRoot = new protobuf.Root();
rpcRoot.resolvePath = (origin, target) => {
  // google/protobuf/*.proto are protobufjs's own; google/rpc/*.proto come from wirecall.
  if (target.startsWith('google/protobuf/')) return target;
  return path.join(REPO, 'wirecall', 'proto', target);
};
rpcRoot.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true });
const RpcStatus = rpcRoot.lookupType('google.rpc.Status');
const TYPE_PREFIX = 'type.googleapis.com/';
const DETAILS_KEY = 'grpc-status-details-bin';

/** An Any holding `value`, a `google.rpc.<typeName>` given as a plain object. */
function packDetail(typeName, value) {
  const type = rpcRoot.lookupType(`google.rpc.${typeName}`);
  return { type_url: TYPE_PREFIX + type.fullName.slice(1), value: type.encode(type.fromObject(value)).finish() };
}

/**
 * An error a handler throws (or a wrapper sends): `code`, `message`, and `details`, a list
 * of [typeName, object] pairs sent as a google.rpc.Status in `grpc-status-details-bin`.
 */
class RpcError extends Error {
  constructor(code, message, details = []) {
    super(message);
    this.code = code;
    this.details = message;
    this.metadata = new grpc.Metadata();
    if (details.length > 0) {
      const status = RpcStatus.fromObject({
        code,
        message,
        details: details.map(([typeName, value]) => packDetail(typeName, value)),
      });
      this.metadata.set(DETAILS_KEY, Buffer.from(RpcStatus.encode(status).finish()));
    }
  }
}

/** The details in a failed call's `grpc-status-details-bin`: [{typeName, value}]. */
function statusDetails(trailers) {
  const raw = trailers ? trailers.get(DETAILS_KEY) : [];
  if (raw.length === 0) return [];
  const status = RpcStatus.decode(raw[0]);
  return status.details.map((any) => {
    const typeName = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
    const type = rpcRoot.lookup(typeName);
    if (!(type instanceof protobuf.Type)) return { typeName, value: null };
    return { typeName, value: type.toObject(type.decode(any.value), { defaults: true, longs: String }) };
  });
}

// ---------------------------------------------------------------------------------------
// Servers

/** The request metadata entries whose key starts with `x-echo-`, as response headers. */
function echoHeaders(requestMetadata) {
  const headers = new grpc.Metadata();
  for (const [key, values] of Object.entries(requestMetadata.toJSON())) {
    if (key.startsWith(ECHO_PREFIX)) {
      for (const value of values) headers.add(key, value);
    }
  }
  return headers;
}

/** The trailer `x-method: <method>`. */
function methodTrailer(method) {
  const trailers = new grpc.Metadata();
  trailers.set('x-method', method);
  return trailers;
}

/** `err` as a status a handler can send, with the `x-method` trailer added. */
function failure(err, method) {
  if (!(err instanceof RpcError)) {
    console.error(`${method}: ${err && err.stack ? err.stack : err}`);
    err = new RpcError(grpc.status.INTERNAL, String(err && err.message ? err.message : err));
  }
  err.metadata.merge(methodTrailer(method));
  return err;
}

/**
 * The handlers of a service, each wrapped so that it echoes the `x-echo-` metadata in its
 * headers and names itself in the `x-method` trailer, on answers and errors alike.
 *
 * `methods` maps a method name to `[kind, fn]`:
 * - `unary`: `fn(request, call)` returns the answer or throws an RpcError;
 * - `clientStream`: `fn(requests, call)`, the requests received, returns the answer;
 * - `serverStream`: `fn(request, call)` writes the answers with `call.write`; the stream
 *   ends when it returns, or when the promise it returns resolves;
 * - `bidi`: `fn(request, index, call)` returns the answer to the index-th request (from 0);
 *   the stream ends when the client's side ends.
 */
function handlers(methods) {
  const wrapped = {};
  for (const [method, [kind, fn]] of Object.entries(methods)) {
    wrapped[method] = WRAPPERS[kind](method, fn);
  }
  return wrapped;
}

const WRAPPERS = {
  unary: (method, fn) => (call, callback) => {
    call.sendMetadata(echoHeaders(call.metadata));
    let answer;
    try {
      answer = fn(call.request, call);
    } catch (err) {
      callback(failure(err, method));
      return;
    }
    callback(null, answer, methodTrailer(method));
  },

  clientStream: (method, fn) => (call, callback) => {
    call.sendMetadata(echoHeaders(call.metadata));
    const requests = [];
    call.on('data', (request) => requests.push(request));
    call.on('error', () => {}); // a cancelled call: nothing to answer
    call.on('end', () => {
      let answer;
      try {
        answer = fn(requests, call);
      } catch (err) {
        callback(failure(err, method));
        return;
      }
      callback(null, answer, methodTrailer(method));
    });
  },

  serverStream: (method, fn) => (call) => {
    call.sendMetadata(echoHeaders(call.metadata));
    const finish = (err) => {
      if (call.cancelled) return;
      if (err) call.emit('error', failure(err, method));
      else call.end(methodTrailer(method));
    };
    let result;
    try {
      result = fn(call.request, call);
    } catch (err) {
      finish(err);
      return;
    }
    Promise.resolve(result).then(() => finish(), finish);
  },

  bidi: (method, fn) => (call) => {
    call.sendMetadata(echoHeaders(call.metadata));
    let index = 0;
    let failed = false;
    call.on('data', (request) => {
      if (failed) return;
      try {
        call.write(fn(request, index++, call));
      } catch (err) {
        failed = true;
        call.emit('error', failure(err, method));
      }
    });
    call.on('end', () => {
      if (!failed && !call.cancelled) call.end(methodTrailer(method));
    });
  },
};

/**
 * A server interceptor that lets a call through when `check(metadata, method)` returns
 * null, and otherwise answers the RpcError it returns (with the echo headers and the
 * `x-method` trailer) before any handler runs.
 */
function guardInterceptor(check) {
  return (methodDescriptor, call) => {
    const method = methodDescriptor.path.slice(methodDescriptor.path.lastIndexOf('/') + 1);
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            const refusal = check(metadata, method);
            if (refusal === null) {
              nextMetadata(metadata);
              return;
            }
            const err = failure(refusal, method);
            call.sendMetadata(echoHeaders(metadata));
            call.sendStatus({ code: err.code, details: err.details, metadata: err.metadata });
          },
        });
      },
    });
  };
}

/**
 * Works around two flaws of @grpc/reflection 1.0.4, which describes the files proto-loader
 * regrouped by package (`users.proto`, `google_protobuf.proto`, ...):
 * - it names the symbols of a .proto without a package with a leading period: ListServices
 *   answered `.Example` (not `Example`) and FileContainingSymbol knew only `.Example`; such
 *   services are now listed, and their symbols found, without the period;
 * - the files it sends do not declare the files they use (`users.proto` did not import
 *   `google_protobuf.proto`, where google.protobuf.Timestamp is), which strict clients reject;
 *   each file now declares the files it was found to use.
 */
function repairReflection(reflection) {
  for (const impl of [reflection.v1, reflection.v1Alpha]) {
    if (!impl || typeof impl.services !== 'object' || typeof impl.symbols !== 'object') continue;
    for (const [name, file] of Object.entries(impl.symbols)) {
      if (name.startsWith('.') && !(name.slice(1) in impl.symbols)) impl.symbols[name.slice(1)] = file;
    }
    for (const [name, service] of Object.entries(impl.services)) {
      if (!name.startsWith('.')) continue;
      delete impl.services[name];
      impl.services[name.slice(1)] = service;
    }
    if (!(impl.fileDependencies instanceof Map) || !(impl.fileEncodings instanceof Map)) continue;
    for (const [file, used] of impl.fileDependencies) {
      const declared = new Set(file.dependency || []);
      const missing = [...new Set(used.map((f) => f.name))].filter((n) => n && !declared.has(n));
      if (missing.length === 0) continue;
      file.dependency = [...declared, ...missing];
      impl.fileEncodings.set(file, file.constructor.encode(file).finish());
    }
  }
  return reflection;
}

/**
 * `interceptor` applied to the methods of `serviceName` only: the health and reflection
 * services next to it (which probes call without the contract's metadata, a bearer token
 * say) go straight to their handlers.
 */
function serviceOnly(serviceName, interceptor) {
  const prefix = `/${serviceName}/`;
  return (methodDescriptor, call) =>
    (methodDescriptor.path.startsWith(prefix) ? interceptor(methodDescriptor, call) : call);
}

/**
 * Serves `service` with `implementation` on `--addr`, prints `<serviceName> listening on
 * HOST:PORT` once it accepts connections, and exits 0 on SIGTERM or SIGINT.
 *
 * `options.interceptors` apply to `serviceName`'s methods only. Next to it the server serves
 * grpc.health.v1.Health (SERVING for "" and for `serviceName`) and server reflection
 * (grpc.reflection.v1 and v1alpha ServerReflection, describing `serviceName`'s .proto and
 * the health service).
 */
function serve(serviceName, service, implementation, options = {}) {
  const addr = addrArg();
  const definition = definitionOf.get(service);
  if (definition === undefined || definition[serviceName] !== service) {
    throw new Error(`serve: ${serviceName} is not a service loaded by loadProto`);
  }
  const interceptors = (options.interceptors || []).map((i) => serviceOnly(serviceName, i));
  const server = new grpc.Server({ ...options, interceptors });
  server.addService(service, implementation);
  const health = new HealthImplementation({ '': 'SERVING', [serviceName]: 'SERVING' });
  health.addToServer(server);
  const healthDefinition = protoLoader.loadSync(HEALTH_PROTO, LOAD_OPTIONS);
  repairReflection(new ReflectionService({ ...definition, ...healthDefinition })).addToServer(server);
  server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
      console.error(`cannot listen on ${addr}: ${err.message}`);
      process.exit(1);
    }
    const host = addr.slice(0, addr.lastIndexOf(':'));
    console.log(`${serviceName} listening on ${host}:${port}`);
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const name of ['', serviceName]) health.setStatus(name, 'NOT_SERVING');
    // Open streams (a WatchUsers, say) would keep tryShutdown waiting: cut them after 2 s.
    const force = setTimeout(() => {
      server.forceShutdown();
      process.exit(0);
    }, 2000);
    server.tryShutdown(() => {
      clearTimeout(force);
      process.exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return server;
}

// ---------------------------------------------------------------------------------------
// Clients

/** A step's check that failed. */
class Failure extends Error {}

function check(ok, detail) {
  if (!ok) throw new Failure(typeof detail === 'function' ? detail() : detail);
}

/** `value` as JSON, object keys sorted (so that comparisons ignore their order). */
function show(value) {
  return JSON.stringify(value, (key, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]));
    }
    return v;
  });
}

function eq(got, want, what) {
  check(show(got) === show(want), () => `expected ${what} ${show(want)}, got ${show(got)}`);
}

function near(got, want, what, tolerance = 1e-9) {
  check(typeof got === 'number' && Math.abs(got - want) <= tolerance, () => `expected ${what} ${want}, got ${show(got)}`);
}

/** Call options with a deadline `ms` from now (5 s unless said otherwise). */
function deadline(ms = DEADLINE_MS) {
  return { deadline: new Date(Date.now() + ms) };
}

/** Request metadata: `entries` plus, when `echo`, the metadata check's `x-echo-check`. */
function metadata(entries = {}, echo = false) {
  const md = new grpc.Metadata();
  for (const [key, value] of Object.entries(entries)) md.set(key, value);
  if (echo) md.set(ECHO_KEY, ECHO_VALUE);
  return md;
}

/**
 * What a call did: `code` (a name, `OK` on success), `message`, `headers`, `trailers`,
 * and `answer` (unary, client stream) or `answers` (server stream, bidi).
 */
function outcome(status, headers, extra) {
  return Object.assign(
    { code: codeName(status.code), message: status.details, headers, trailers: status.metadata },
    extra,
  );
}

/** A unary call: `client[method](request)`, resolved with its outcome. */
function unary(client, method, request, md = metadata(), options = deadline()) {
  return new Promise((resolve) => {
    let answer = null;
    let headers = new grpc.Metadata();
    const call = client[method](request, md, options, (err, response) => {
      if (!err) answer = response;
    });
    call.on('metadata', (m) => { headers = m; });
    call.on('status', (status) => resolve(outcome(status, headers, { answer })));
  });
}

/** A client-streaming call sending `requests`, resolved with its outcome. */
function clientStream(client, method, requests, md = metadata(), options = deadline()) {
  return new Promise((resolve) => {
    let answer = null;
    let headers = new grpc.Metadata();
    const call = client[method](md, options, (err, response) => {
      if (!err) answer = response;
    });
    call.on('metadata', (m) => { headers = m; });
    call.on('status', (status) => resolve(outcome(status, headers, { answer })));
    for (const request of requests) call.write(request);
    call.end();
  });
}

/**
 * A streaming call read message by message: `next()` resolves with the next answer, or null
 * once the stream has ended; `result()` with the outcome once the status has come, its
 * `answers` being every answer read; `cancel()` cancels it.
 */
class Reader {
  constructor(call) {
    this.call = call;
    this.queue = [];
    this.waiting = null;
    this.ended = false;
    this.answers = [];
    this.headers = new grpc.Metadata();
    this.headersArrived = new Promise((resolve) => { this.resolveHeaders = resolve; });
    let ended;
    this.endedPromise = new Promise((resolve) => { ended = resolve; });
    this.statusPromise = new Promise((resolve) => {
      call.on('status', (status) => {
        this.resolveHeaders(this.headers);
        resolve(status);
      });
    });
    call.on('metadata', (m) => {
      this.headers = m;
      this.resolveHeaders(m);
    });
    call.on('data', (answer) => {
      this.answers.push(answer);
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w(answer);
      } else {
        this.queue.push(answer);
      }
    });
    const end = () => {
      this.ended = true;
      ended();
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w(null);
      }
    };
    call.on('end', end);
    call.on('error', end); // the status says which error
  }

  /** The next answer, or null at the end; fails after `ms` without one. */
  next(ms = DEADLINE_MS) {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Failure(`no answer within ${ms} ms`));
      }, ms);
      this.waiting = (answer) => {
        clearTimeout(timer);
        resolve(answer);
      };
    });
  }

  write(request) {
    this.call.write(request);
  }

  end() {
    this.call.end();
  }

  cancel() {
    this.call.cancel();
  }

  async result() {
    const status = await this.statusPromise;
    // On success every answer has been read once the stream has ended too.
    if (status.code === grpc.status.OK) await this.endedPromise;
    return outcome(status, this.headers, { answers: this.answers });
  }
}

/** A server-streaming call, resolved with its outcome once it has ended. */
function serverStream(client, method, request, md = metadata(), options = deadline()) {
  return new Reader(client[method](request, md, options)).result();
}

/** A server-streaming call to read answer by answer. */
function openServerStream(client, method, request, md = metadata(), options = deadline()) {
  return new Reader(client[method](request, md, options));
}

/** A bidirectional call, as a Reader that also writes. */
function openBidi(client, method, md = metadata(), options = deadline()) {
  return new Reader(client[method](md, options));
}

/** Fails unless `result` succeeded; returns it. */
function ok(result) {
  check(result.code === 'OK', () => `expected an answer, got status ${result.code}: ${result.message}`);
  return result;
}

/** A failed call as a step shows it: `CODE: message`. */
function failed(result) {
  return `${result.code}: ${result.message}`;
}

/** Fails unless `result` failed with `code` (a name); returns it. */
function refused(result, code) {
  if (result.code === 'OK') {
    const got = result.answer !== undefined ? result.answer : result.answers;
    throw new Failure(`expected ${code}, got the answer ${show(got)}`);
  }
  check(result.code === code, () => `expected ${code}, got status ${result.code}: ${result.message}`);
  return result;
}

/** The metadata check: the headers echo `x-echo-check`, the trailers name `method`. */
function echoed(result, method, trailersToo = true) {
  const echo = result.headers.get(ECHO_KEY);
  check(echo.length === 1 && echo[0] === ECHO_VALUE,
    () => `expected the header ${ECHO_KEY}: ${ECHO_VALUE}, got headers ${show(result.headers.toJSON())}`);
  if (!trailersToo) return;
  const named = result.trailers ? result.trailers.get('x-method') : [];
  check(named.length === 1 && named[0] === method,
    () => `expected the trailer x-method: ${method}, got trailers ${show(result.trailers ? result.trailers.toJSON() : {})}`);
}

/**
 * The ping-pong step of a bidirectional method, with the metadata check: opens `method` with
 * the request metadata `md` (which carries the echo) and sends each of `requests` in turn,
 * reading its answer before sending the next; `checkAnswer(answer, request, i)` checks the
 * answer to the i-th request (from 0) and returns how to show it. Then ends the client's
 * side and checks that the stream ends OK with no more answers, and the metadata check.
 * Resolves with the answers shown, then ", ended OK".
 */
async function pingPong(client, method, requests, checkAnswer, md = metadata({}, true)) {
  const call = openBidi(client, method, md);
  const got = [];
  for (const [i, request] of requests.entries()) {
    call.write(request);
    const answer = await call.next();
    check(answer !== null, () => `expected an answer to ${show(request)}, got the end of the stream`);
    got.push(checkAnswer(answer, request, i));
  }
  call.end();
  const res = ok(await call.result());
  eq(res.answers.length, requests.length, 'the number of answers');
  echoed(res, method);
  return `${got.join(', ')}, ended OK`;
}

/**
 * The step "200 ms deadline, nothing sent" of a bidirectional method: opens `method` with a
 * 200 ms deadline and the request metadata `md`, sends nothing, and checks that the call fails
 * with DEADLINE_EXCEEDED. Resolves with the code's name.
 */
async function expectDeadline(client, method, md = metadata()) {
  const call = openBidi(client, method, md, deadline(200));
  return refused(await call.result(), 'DEADLINE_EXCEEDED').code;
}

/**
 * Runs `steps`, a list of [name, async fn] where fn returns what came back (a string),
 * printing one line per step; on the first failure prints `FAILED <step>: ...` on stderr
 * and exits 1; at the end prints `all N steps passed` and exits 0.
 */
async function runSteps(steps) {
  // Never hang, whatever happens: every call has a deadline, and so does the whole run.
  let current = '(start)';
  const watchdog = setTimeout(() => {
    console.error(`FAILED ${current}: the client did not finish within 50 s`);
    process.exit(1);
  }, 50000);
  for (const [i, [step, fn]] of steps.entries()) {
    const name = `${i + 1}. ${step}`;
    current = name;
    let got;
    try {
      got = await fn();
    } catch (err) {
      const detail = err instanceof Failure ? err.message : `unexpected error: ${err && err.stack ? err.stack : err}`;
      console.error(`FAILED ${name}: ${detail}`);
      process.exit(1);
    }
    console.log(`${name.padEnd(44)} ${got}`);
  }
  clearTimeout(watchdog);
  console.log(`all ${steps.length} steps passed`);
  process.exit(0);
}

module.exports = {
  grpc,
  addrArg,
  loadProto,
  codeName,
  RpcError,
  statusDetails,
  echoHeaders,
  methodTrailer,
  handlers,
  guardInterceptor,
  serve,
  Failure,
  check,
  eq,
  near,
  show,
  deadline,
  metadata,
  unary,
  clientStream,
  serverStream,
  openServerStream,
  openBidi,
  ok,
  failed,
  refused,
  echoed,
  pingPong,
  expectDeadline,
  runSteps,
};
