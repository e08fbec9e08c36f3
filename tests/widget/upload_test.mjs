// An editor's browser uploads a PDF (Debian chromium driven by playwright-core): from a page
// on an editorial origin, fetch() sends the file with the editor's bearer token and the
// SHA-256 the browser computed (Content-Digest), through CORS; then, as a reader, the browser
// asks the public API for the paper's download.
//
//   node upload_test.mjs --mode upload --editor URL --api URL --token TOKEN
//   node upload_test.mjs --mode download --api URL --url URL --expect 404|200 [--sha256 HEX]
//
// upload prints `key sha256:…` once the upload is answered 201 with that key; download checks
// the status (and the bytes' SHA-256). Exits 0 when every check passes.
import { args, check, failures, launch } from "./harness.mjs";

const browser = await launch();
try {
  const page = await (await browser.newContext()).newPage();
  page.on("console", (m) => console.log(`  console: ${m.text()}`));
  if (args.mode === "upload") {
    await page.goto(args.editor);
    const result = await page.evaluate(
      async ({ api, token }) => {
        const text = "%PDF-1.7\n% made in the browser\n" + "x".repeat(100000) + "\n%%EOF\n";
        const bytes = new TextEncoder().encode(text);
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
        const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
        const b64 = btoa(String.fromCharCode(...digest));
        const response = await fetch(`${api}/editor/v1/files?name=browser.pdf`, {
          method: "POST",
          headers: {
            Authorization: `Bearer ${token}`,
            "Content-Type": "application/pdf",
            "Content-Digest": `sha-256=:${b64}:`,
          },
          body: new Blob([bytes], { type: "application/pdf" }),
        });
        return { status: response.status, body: await response.json(), hex, origin: location.origin };
      },
      { api: args.api, token: args.token }
    );
    check(result.status === 201, `the upload from ${result.origin} is answered 201 (${result.status})`);
    check(result.body.key === `sha256:${result.hex}`, `the key is the browser's SHA-256: ${result.body.key}`);
    check(result.body.media_type === "application/pdf", `typed from its bytes: ${result.body.media_type}`);
    console.log(`key ${result.body.key}`);
  } else {
    // The public API's own origin: a reader's fetch of a download needs no CORS.
    await page.goto(`${args.api}/openapi.json`);
    const result = await page.evaluate(async (url) => {
      const response = await fetch(url);
      const bytes = new Uint8Array(await response.arrayBuffer());
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
      return {
        status: response.status,
        hex: [...digest].map((b) => b.toString(16).padStart(2, "0")).join(""),
        disposition: response.headers.get("content-disposition"),
      };
    }, args.url);
    check(String(result.status) === args.expect, `the download is ${args.expect} (${result.status})`);
    if (args.sha256) {
      check(result.hex === args.sha256, "the bytes downloaded are the bytes uploaded");
      check((result.disposition || "").includes("browser.pdf"), `named: ${result.disposition}`);
    }
  }
} finally {
  await browser.close();
}
if (failures.length) {
  console.log(`${failures.length} upload checks failed`);
  process.exit(1);
}
console.log("every upload check passed");
