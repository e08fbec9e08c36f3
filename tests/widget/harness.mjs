// What the browser tests share: playwright-core from tools/, the --name value arguments, the
// checks they print and count, and Debian's Chromium launched headless.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../tools/package.json"));
const { chromium } = require("playwright-core");

/** The command line's `--name value` pairs. */
export const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith("--")) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
  }, [])
);

/** The checks that failed. */
export const failures = [];

/** Prints a check's outcome and counts it when it failed. */
export const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
};

/** Chromium as the tests run it ($IMPRINT_CHROMIUM, else Debian's). */
export const launch = () =>
  chromium.launch({
    executablePath: process.env.IMPRINT_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu"],
  });
