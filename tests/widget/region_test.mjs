// The widget restricted to a region in a real browser (Debian chromium driven by
// playwright-core): a partner page embeds the rail with data-region, and the rail shows only
// publications of that region or of its countries.
//
//   node region_test.mjs --url URL --expected JSON --region JSON --outside JSON
//
// --url: the demo partner page with &region=…; --expected: the titles the API's rail for that
// region serves, in order; --region: every published title of the region; --outside: titles
// the unrestricted rail shows that are not of the region. Exits 0 when every check passes.
import { args, check, failures, launch } from "./harness.mjs";

const expected = JSON.parse(args.expected);
const region = JSON.parse(args.region);
const outside = JSON.parse(args.outside);

const browser = await launch();
try {
  const page = await (await browser.newContext()).newPage();
  page.on("console", (m) => console.log(`  console: ${m.text()}`));
  await page.goto(args.url);
  await page.waitForSelector("#rail[data-imprint-state]", { state: "attached", timeout: 15000 });
  const state = await page.getAttribute("#rail", "data-imprint-state");
  check(state === "rendered", `the region's rail renders (state ${state})`);
  const titles = await page.locator("#rail a.title").allTextContents();
  check(titles.length > 0, `the rail has items: ${JSON.stringify(titles)}`);
  check(
    JSON.stringify(titles) === JSON.stringify(expected),
    `the rail shows what the API serves for the region, in order: ${JSON.stringify(titles)}`
  );
  check(titles.every((t) => region.includes(t)), "every item is of the region or one of its countries");
  check(
    outside.length > 0 && outside.every((t) => !titles.includes(t)),
    `no publication from elsewhere: ${JSON.stringify(outside)}`
  );
} finally {
  await browser.close();
}
if (failures.length) {
  console.log(`${failures.length} region checks failed`);
  process.exit(1);
}
console.log("every region check passed");
