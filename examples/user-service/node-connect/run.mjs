// examples/user-service/tests/connect_node.rs runs this: @connectrpc/connect-node calls
// wirecall's UserService over every transport it has (gRPC, gRPC-Web, Connect), with
// protobuf and with JSON messages, over HTTP/2 and HTTP/1.1. The service is described at run
// time by the server's FileDescriptorSet (no generated code).
//
// Usage: node run.mjs --server http://127.0.0.1:PORT --descriptors FILE
// Prints one line per check, `PASS <transport>/<check>: detail` or `FAIL ...`, and exits 1
// if any failed.

import { readFileSync } from "node:fs";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";

const TIMEOUT_MS = 5000;

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || i + 1 >= process.argv.length) {
    throw new Error(`missing --${name}`);
  }
  return process.argv[i + 1];
}

function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

function describe(err) {
  if (err instanceof ConnectError) {
    return `ConnectError [${Code[err.code]}] ${err.rawMessage}`;
  }
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

const baseUrl = arg("server");
const set = fromBinary(FileDescriptorSetSchema, readFileSync(arg("descriptors")));
const service = createFileRegistry(set).getService("user.UserService");
check(service !== undefined, "user.UserService missing from the descriptor set");

// Every transport connect-node has, binary and JSON; gRPC needs HTTP/2.
const transports = [];
for (const json of [false, true]) {
  const format = json ? "json" : "proto";
  const useBinaryFormat = !json;
  transports.push([
    `grpc-${format}-h2`,
    createGrpcTransport({ baseUrl, httpVersion: "2", useBinaryFormat }),
  ]);
  for (const httpVersion of ["2", "1.1"]) {
    const h = httpVersion === "2" ? "h2" : "h1";
    transports.push([
      `grpc-web-${format}-${h}`,
      createGrpcWebTransport({ baseUrl, httpVersion, useBinaryFormat }),
    ]);
    transports.push([
      `connect-${format}-${h}`,
      createConnectTransport({ baseUrl, httpVersion, useBinaryFormat }),
    ]);
  }
}

const options = { timeoutMs: TIMEOUT_MS };

function checks(users) {
  return [
    [
      "unary",
      async () => {
        const wanted = { name: "Ada", email: "ada@example.com" };
        const created = await users.createUser(wanted, options);
        check(created.id !== "", `CreateUser returned id ${JSON.stringify(created.id)}`);
        check(created.createdAt > 0n, `CreateUser returned created_at ${created.createdAt}`);
        const got = await users.getUser({ userId: created.id }, options);
        check(got.name === wanted.name && got.email === wanted.email,
          `GetUser gave ${got.name} <${got.email}>`);
        check(got.createdAt === created.createdAt, `created_at ${got.createdAt} != ${created.createdAt}`);
        return `CreateUser -> ${created.id}; GetUser -> ${got.name} <${got.email}> created ${got.createdAt}`;
      },
    ],
    [
      "stream",
      async () => {
        const ids = [];
        for await (const user of users.streamUsers({}, options)) {
          ids.push(user.id);
        }
        check(ids.length >= 1, "StreamUsers sent no users");
        return `StreamUsers -> ${ids.length} users`;
      },
    ],
    [
      "error",
      async () => {
        const err = await users.getUser({ userId: "999999" }, options).then(
          (user) => {
            throw new Error(`GetUser(999999) succeeded: ${JSON.stringify(user)}`);
          },
          (e) => ConnectError.from(e),
        );
        check(err.code === Code.NotFound, `want NotFound, got ${describe(err)}`);
        check(err.rawMessage === "user 999999 not found", `message ${JSON.stringify(err.rawMessage)}`);
        return describe(err);
      },
    ],
  ];
}

let failed = 0;
for (const [name, transport] of transports) {
  const users = createClient(service, transport);
  for (const [check, run] of checks(users)) {
    try {
      const detail = await run();
      console.log(`PASS ${name}/${check}: ${detail}`);
    } catch (err) {
      failed += 1;
      console.log(`FAIL ${name}/${check}: ${describe(err)}`);
    }
  }
}
process.exit(failed === 0 ? 0 : 1);
