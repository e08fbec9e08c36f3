// A preview link in a real browser (Debian chromium driven by playwright-core): the reviewer
// opens the link an editor sent and reads the draft's page; after the link is revoked, the same
// URL is a 404.
//
//   node preview_test.mjs --url URL --title TITLE --expect shown|gone
//
// Exits 0 when every check passes.
import { args, check, failures, launch } from "./harness.mjs";

const browser = await launch();
try {
  const page = await (await browser.newContext()).newPage();
  const response = await page.goto(args.url);
  const status = response.status();
  const headers = response.headers();
  const text = await page.locator("body").innerText();
  if (args.expect === "shown") {
    check(status === 200, `the preview answers 200 (${status})`);
    check(text.includes(args.title), "the browser shows the draft's title");
    check(headers["cache-control"] === "private, no-store", `Cache-Control ${headers["cache-control"]}`);
    check(headers["x-robots-tag"] === "noindex", `X-Robots-Tag ${headers["x-robots-tag"]}`);
    check(headers["referrer-policy"] === "no-referrer", `Referrer-Policy ${headers["referrer-policy"]}`);
    check(headers["etag"] === undefined, "no ETag to revalidate a private page with");
  } else {
    check(status === 404, `the revoked link answers 404 (${status})`);
    check(!text.includes(args.title), "the browser no longer shows the draft");
    check(headers["cache-control"] === "private, no-store", `Cache-Control ${headers["cache-control"]}`);
  }
} finally {
  await browser.close();
}
if (failures.length) {
  console.log(`${failures.length} preview checks failed`);
  process.exit(1);
}
console.log("every preview check passed");
