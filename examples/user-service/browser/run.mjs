// Runs page.ts in headless Chromium against a UserService server and reports its checks.
//
//   node run.mjs --server http://127.0.0.1:PORT --descriptors FILE [--screenshot FILE.png]
//
// Bundles page.ts with esbuild into a temporary directory, serves index.html, the bundle
// and the descriptor set (an encoded google.protobuf.FileDescriptorSet) from a static
// server on its own 127.0.0.1 port (another origin than the server's, so calls are
// cross-origin), opens the page in /usr/bin/chromium through playwright-core, and prints
// one line per check, `PASS name: detail` or `FAIL name: detail`, then the browser's console
// errors. Exits 0 only if every check passed within the time limit.

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import * as esbuild from "esbuild";
import { chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
/** How long the page may take for all its checks. */
const PAGE_TIMEOUT_MS = 30_000;
/** How long the whole run may take, browser start and bundling included. */
const RUN_TIMEOUT_MS = 90_000;

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    server: { type: "string" },
    descriptors: { type: "string" },
    screenshot: { type: "string" },
  },
});
if (!args.server || !args.descriptors) {
  console.error("usage: node run.mjs --server http://127.0.0.1:PORT --descriptors FILE [--screenshot FILE]");
  process.exit(2);
}

const watchdog = setTimeout(() => {
  console.log(`FAIL run: no result within ${RUN_TIMEOUT_MS} ms`);
  process.exit(1);
}, RUN_TIMEOUT_MS);
watchdog.unref();

/** Serves `files` (URL path -> [content type, bytes]) on 127.0.0.1; resolves to its origin. */
function serve(files) {
  const server = createServer((request, response) => {
    const path = new URL(request.url, "http://localhost").pathname;
    const file = files[path === "/" ? "/index.html" : path];
    if (request.method !== "GET" || !file) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": file[0], "cache-control": "no-store" }).end(file[1]);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      resolve({ server, origin: `http://127.0.0.1:${server.address().port}` });
    });
  });
}

const out = await mkdtemp(join(tmpdir(), "wirecall-browser-"));
let browser;
let site;
const consoleErrors = [];
let failed = false;
try {
  await esbuild.build({
    entryPoints: [join(here, "page.ts")],
    outfile: join(out, "page.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "chrome120",
    logLevel: "warning",
  });
  site = await serve({
    "/index.html": ["text/html; charset=utf-8", await readFile(join(here, "index.html"))],
    "/page.js": ["text/javascript; charset=utf-8", await readFile(join(out, "page.js"))],
    "/descriptors.binpb": ["application/octet-stream", await readFile(args.descriptors)],
  });

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  console.log(`chromium ${browser.version()}; page ${site.origin}, server ${args.server}`);
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  page.on("console", (message) => {
    if (message.type() === "error") {
      consoleErrors.push(message.text());
    }
  });
  page.on("pageerror", (error) => consoleErrors.push(`uncaught ${error}`));

  const query = new URLSearchParams({ server: args.server, descriptors: "descriptors.binpb" });
  await page.goto(`${site.origin}/index.html?${query}`, { timeout: 10_000 });
  let results;
  try {
    await page.waitForFunction(() => window.__results !== undefined, null, {
      timeout: PAGE_TIMEOUT_MS,
    });
    results = await page.evaluate(() => window.__results);
  } catch (err) {
    results = (await page.evaluate(() => window.__progress ?? []).catch(() => [])) ?? [];
    results.push({ name: "timeout", ok: false, detail: `page not done within ${PAGE_TIMEOUT_MS} ms: ${err.message.split("\n")[0]}` });
  }
  if (results.length === 0) {
    results.push({ name: "page", ok: false, detail: "no results" });
  }
  for (const { name, ok, detail } of results) {
    console.log(`${ok ? "PASS" : "FAIL"} ${name}: ${detail}`);
    failed ||= !ok;
  }
  if (args.screenshot) {
    await page.screenshot({ path: args.screenshot, fullPage: true });
    console.log(`screenshot ${args.screenshot}`);
  }
} catch (err) {
  console.log(`FAIL run: ${err.stack ?? err}`);
  failed = true;
} finally {
  for (const text of consoleErrors) {
    console.log(`console.error: ${text}`);
  }
  await browser?.close().catch(() => {});
  site?.server.close();
  await rm(out, { recursive: true, force: true });
}
console.log(failed ? "browser checks: some FAILED" : "browser checks: all passed");
process.exit(failed ? 1 : 0);
