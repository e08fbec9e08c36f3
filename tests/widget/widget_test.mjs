// The widget in a real browser (Debian chromium driven by playwright-core): a partner page on
// one origin embeds /widget.js from the gateway on another.
//
//   node widget_test.mjs --partner URL --elsewhere URL --titles JSON
//
// --partner: the demo partner page on an origin bound to the key; --elsewhere: the same page
// on an origin the key is not bound to; --titles: the related titles the API serves for the
// paper, in order. Exits 0 when every check passes.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../tools/package.json"));
const { chromium } = require("playwright-core");

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith("--")) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
  }, [])
);
const expected = JSON.parse(args.titles);
const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
};

const browser = await chromium.launch({
  executablePath: process.env.IMPRINT_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("console", (m) => console.log(`  console: ${m.text()}`));

  // The partner's page: the rail renders with the paper's related publications.
  const impression = page.waitForRequest(
    (r) => r.url().includes("/v1/interactions") && (r.postData() || "").includes('"impression"'),
    { timeout: 15000 }
  );
  await page.goto(args.partner);
  await page.waitForSelector("#rail[data-imprint-state]", { state: "attached", timeout: 15000 });
  const state = await page.getAttribute("#rail", "data-imprint-state");
  check(state === "rendered", `the rail renders on the partner's origin (state ${state})`);
  const links = page.locator("#rail a.title");
  const titles = await links.allTextContents();
  check(
    JSON.stringify(titles) === JSON.stringify(expected),
    `the rail shows the related publications in order: ${JSON.stringify(titles)}`
  );
  const meta = await page.locator("#rail p.meta").allTextContents();
  check(meta.length === titles.length && meta.every((m) => / · /.test(m)), `each item has a date and a type: ${JSON.stringify(meta)}`);
  const topics = await page.locator("#rail ul.topics li").count();
  check(topics > 0, `topics are shown (${topics})`);

  // The partner's stylesheet hides every link and turns text red: not inside the shadow root.
  check(await links.first().isVisible(), "the partner's CSS cannot hide the widget's links");
  const color = await links.first().evaluate((a) => getComputedStyle(a).color);
  check(color !== "rgb(204, 0, 0)", `the partner's CSS cannot recolour them (${color})`);

  // Accessible: a labelled region with a heading, a list, links by name; keyboard reachable.
  const heading = page.getByRole("heading", { name: "Related Publications" });
  check((await heading.count()) === 1, "a 'Related Publications' heading");
  check((await page.getByRole("list").count()) >= 1, "the items are a list");
  check((await page.getByRole("link", { name: expected[0] }).count()) === 1, "each item is a link named by its title");
  let focused = "";
  for (let i = 0; i < 10 && focused !== expected[0]; i++) {
    await page.keyboard.press("Tab");
    focused = await page.evaluate(() => {
      const host = document.getElementById("rail");
      const inner = host && host.shadowRoot && host.shadowRoot.activeElement;
      return inner ? inner.textContent : "";
    });
  }
  check(focused === expected[0], `Tab reaches the first link (${focused})`);

  // Impressions are reported once the rail is seen; no cookies anywhere.
  const shown = await impression.catch(() => null);
  check(shown !== null, "an impression report is sent");
  const cookies = await context.cookies();
  check(cookies.length === 0, `no cookies (${cookies.length})`);

  // A click is reported as the link is followed.
  const click = page.waitForRequest(
    (r) => r.url().includes("/v1/interactions") && (r.postData() || "").includes('"click"'),
    { timeout: 15000 }
  );
  await links.first().click();
  const clicked = await click.catch(() => null);
  check(clicked !== null, "a click report is sent");

  // The same page on an origin the key is not bound to gets no data.
  const other = await context.newPage();
  other.on("console", (m) => console.log(`  console (elsewhere): ${m.text()}`));
  const refused = other.waitForEvent("requestfailed", {
    predicate: (r) => r.url().includes("/related"),
    timeout: 15000,
  });
  await other.goto(args.elsewhere);
  await other.waitForSelector("#rail[data-imprint-state]", { state: "attached", timeout: 15000 });
  const otherState = await other.getAttribute("#rail", "data-imprint-state");
  check(otherState === "failed", `the rail fails on an origin not bound to the key (state ${otherState})`);
  check((await other.locator("#rail a.title").count()) === 0, "no related publication is shown there");
  const failed = await refused.catch(() => null);
  check(failed !== null, `the browser blocks the rail's request (${failed && failed.failure() && failed.failure().errorText})`);
} finally {
  await browser.close();
}
if (failures.length) {
  console.log(`${failures.length} widget checks failed`);
  process.exit(1);
}
console.log("every widget check passed");
