// The browser side of examples/user-service/tests/browser.rs: calls wirecall's UserService
// with @connectrpc/connect-web over gRPC-Web and Connect (binary and JSON), its service and
// messages described at run time by the server's FileDescriptorSet (no generated code).
//
// The page reads `?server=http://127.0.0.1:PORT&descriptors=URL`, renders one row per
// check, and sets `window.__results` (an array of {name, ok, detail}) when done;
// `window.__progress` holds the rows so far.

import {
  create,
  createFileRegistry,
  fromBinary,
  type DescMessage,
  type DescService,
} from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
} from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";

interface Result {
  name: string;
  ok: boolean;
  detail: string;
}

declare global {
  interface Window {
    __progress: Result[];
    __results?: Result[];
  }
}

/** Every call gets this deadline, so a hung call fails its row instead of the whole run. */
const TIMEOUT_MS = 5000;

const params = new URLSearchParams(location.search);
const baseUrl = params.get("server") ?? "";
const descriptorsUrl = params.get("descriptors") ?? "descriptors.binpb";

window.__progress = [];

function render(result: Result): void {
  window.__progress.push(result);
  const row = document.createElement("tr");
  row.className = result.ok ? "pass" : "fail";
  for (const text of [result.ok ? "PASS" : "FAIL", result.name, result.detail]) {
    const cell = document.createElement("td");
    cell.textContent = text;
    row.append(cell);
  }
  document.getElementById("results")!.append(row);
}

/** Throws with `message` unless `condition` holds. */
function check(condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new Error(message);
  }
}

function describe(err: unknown): string {
  if (err instanceof ConnectError) {
    return `ConnectError [${Code[err.code]}] ${err.rawMessage}`;
  }
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * `google.rpc.ErrorInfo` (google/rpc/error_details.proto), described here by hand: the
 * server's descriptor set only holds what user.proto needs.
 */
function errorInfoDesc(): DescMessage {
  const { OPTIONAL, REPEATED } = FieldDescriptorProto_Label;
  const { STRING, MESSAGE } = FieldDescriptorProto_Type;
  const file = create(FileDescriptorProtoSchema, {
    name: "google/rpc/error_details.proto",
    package: "google.rpc",
    syntax: "proto3",
    messageType: [
      {
        name: "ErrorInfo",
        field: [
          { name: "reason", number: 1, label: OPTIONAL, type: STRING, jsonName: "reason" },
          { name: "domain", number: 2, label: OPTIONAL, type: STRING, jsonName: "domain" },
          {
            name: "metadata",
            number: 3,
            label: REPEATED,
            type: MESSAGE,
            typeName: ".google.rpc.ErrorInfo.MetadataEntry",
            jsonName: "metadata",
          },
        ],
        nestedType: [
          {
            name: "MetadataEntry",
            field: [
              { name: "key", number: 1, label: OPTIONAL, type: STRING, jsonName: "key" },
              { name: "value", number: 2, label: OPTIONAL, type: STRING, jsonName: "value" },
            ],
            options: { mapEntry: true },
          },
        ],
      },
    ],
  });
  const registry = createFileRegistry(file, () => undefined);
  const desc = registry.getMessage("google.rpc.ErrorInfo");
  check(desc !== undefined, "google.rpc.ErrorInfo missing from its own registry");
  return desc;
}

// The messages of user.proto, as the descriptors shape them (no generated types).
interface User {
  id: string;
  name: string;
  email: string;
  createdAt: bigint;
}
interface ErrorInfo {
  reason: string;
  domain: string;
  metadata: Record<string, string>;
}

/** One transport's checks, each a named async function returning its detail line. */
function checks(
  client: Client<DescService>,
  errorInfo: DescMessage,
): [string, () => Promise<string>][] {
  // The client's methods are typed from a DescService known only at run time.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const users = client as any;
  const options = { timeoutMs: TIMEOUT_MS };
  return [
    [
      "unary",
      async () => {
        const wanted = { name: "Dora", email: "dora@example.com" };
        const created: User = await users.createUser(wanted, options);
        check(created.id !== "", `CreateUser returned id ${JSON.stringify(created.id)}`);
        check(created.createdAt > 0n, `CreateUser returned created_at ${created.createdAt}`);
        const got: User = await users.getUser({ userId: created.id }, options);
        for (const key of ["id", "name", "email", "createdAt"] as const) {
          const expected = key === "id" || key === "createdAt" ? created[key] : wanted[key];
          check(got[key] === expected, `GetUser ${key}: got ${got[key]}, want ${expected}`);
        }
        return `CreateUser -> id ${created.id}; GetUser(${got.id}) = ${got.name} <${got.email}> created ${got.createdAt}`;
      },
    ],
    [
      "stream",
      async () => {
        const ids: string[] = [];
        for await (const user of users.streamUsers({}, options) as AsyncIterable<User>) {
          ids.push(user.id);
        }
        check(ids.length >= 1, "StreamUsers sent no users");
        check(
          ids.every((id, i) => i === 0 || Number(id) > Number(ids[i - 1])),
          `ids not in creation order: ${ids.join(",")}`,
        );
        return `StreamUsers -> ${ids.length} users, ids ${ids.join(",")}`;
      },
    ],
    [
      "error-details",
      async () => {
        const err: ConnectError = await users.getUser({ userId: "999999" }, options).then(
          (user: User) => {
            throw new Error(`GetUser(999999) succeeded: ${JSON.stringify(user)}`);
          },
          (e: unknown) => ConnectError.from(e),
        );
        check(err.code === Code.NotFound, `want NotFound, got ${describe(err)}`);
        check(
          err.rawMessage === "user 999999 not found",
          `message ${JSON.stringify(err.rawMessage)}`,
        );
        const types = err.details.map((d) => ("desc" in d ? d.desc.typeName : d.type));
        const infos = err.findDetails(errorInfo) as unknown as ErrorInfo[];
        if (infos.length !== 1) {
          // findDetails skips what it cannot decode: say why.
          const why = err.details.map((d) => {
            try {
              return "desc" in d ? "outgoing" : JSON.stringify(fromBinary(errorInfo, d.value));
            } catch (e) {
              return describe(e);
            }
          });
          check(false, `want one ErrorInfo, details: [${types.join(", ")}] (${why.join("; ")})`);
        }
        const info = infos[0];
        check(info.reason === "USER_NOT_FOUND", `reason ${JSON.stringify(info.reason)}`);
        check(info.domain === "user.example.com", `domain ${JSON.stringify(info.domain)}`);
        check(info.metadata.user_id === "999999", `metadata ${JSON.stringify(info.metadata)}`);
        return `[${Code[err.code]}] ${err.rawMessage}; ErrorInfo ${info.reason} ${info.domain} user_id=${info.metadata.user_id}`;
      },
    ],
    [
      "metadata",
      async () => {
        let header: Headers | undefined;
        let trailer: Headers | undefined;
        await users.getUser(
          { userId: "1" },
          {
            ...options,
            headers: { "x-echo-token": "abc" },
            onHeader: (h: Headers) => (header = h),
            onTrailer: (t: Headers) => (trailer = t),
          },
        );
        const token = header?.get("x-echo-token");
        const method = trailer?.get("x-method");
        check(
          token === "abc",
          `header x-echo-token ${JSON.stringify(token)}; headers seen: [${[...(header?.keys() ?? [])].join(", ")}]`,
        );
        check(
          method === "GetUser",
          `trailer x-method ${JSON.stringify(method)}; trailers seen: [${[...(trailer?.keys() ?? [])].join(", ")}]`,
        );
        return `header x-echo-token=${token}, trailer x-method=${method}`;
      },
    ],
  ];
}

async function main(): Promise<void> {
  document.getElementById("server")!.textContent = baseUrl;
  const response = await fetch(descriptorsUrl);
  check(response.ok, `GET ${descriptorsUrl}: HTTP ${response.status}`);
  const set = fromBinary(FileDescriptorSetSchema, new Uint8Array(await response.arrayBuffer()));
  const registry = createFileRegistry(set);
  const service = registry.getService("user.UserService");
  check(service !== undefined, "user.UserService is not in the descriptor set");
  render({
    name: "descriptors",
    ok: true,
    detail: `${set.file.map((f) => f.name).join(", ")}; user.UserService has ${service.methods.length} methods`,
  });
  const errorInfo = errorInfoDesc();

  const transports: [string, Transport][] = [
    ["grpc-web", createGrpcWebTransport({ baseUrl, useBinaryFormat: true })],
    ["connect-proto", createConnectTransport({ baseUrl, useBinaryFormat: true })],
    ["connect-json", createConnectTransport({ baseUrl })],
  ];
  for (const [transportName, transport] of transports) {
    const client = createClient(service, transport);
    for (const [checkName, run] of checks(client, errorInfo)) {
      const name = `${transportName}/${checkName}`;
      try {
        render({ name, ok: true, detail: await run() });
      } catch (err) {
        render({ name, ok: false, detail: describe(err) });
      }
    }
  }
}

main()
  .catch((err) => render({ name: "setup", ok: false, detail: describe(err) }))
  .finally(() => {
    window.__results = window.__progress;
    document.body.dataset.done = "true";
  });
