// The widget in a real browser (Debian chromium driven by playwright-core): a partner page on
// one origin embeds /widget.js from the gateway on another.
//
//   node widget_test.mjs --partner URL --elsewhere URL --titles JSON [--screenshot PATH]
//
// --partner: the demo partner page on an origin bound to the key; --elsewhere: the same page
// on an origin the key is not bound to; --titles: the related titles the API serves for the
// paper, in order; --screenshot: where to save a PNG of the rail on the partner's hostile
// page (kept as a test artefact: what the rail really looked like). Exits 0 when every check
// passes.
import fs from "node:fs";
import path from "node:path";
import { args, check, failures, launch } from "./harness.mjs";

const expected = JSON.parse(args.titles);

// What makes the rail look as it does: compared between the reference page and the partner's
// page for every element of the rail (sizes left out: the partner may size the host).
const LOOK = [
  "color", "font-family", "font-size", "font-weight", "font-style", "font-variant", "font-stretch",
  "font-feature-settings", "font-kerning", "line-height", "letter-spacing", "word-spacing",
  "text-transform", "text-align", "text-indent", "text-decoration-line", "text-decoration-style",
  "text-decoration-color", "text-shadow", "white-space", "word-break", "overflow-wrap", "hyphens",
  "visibility", "direction", "unicode-bidi", "writing-mode", "-webkit-text-fill-color",
  "-webkit-text-stroke-width", "-webkit-line-clamp", "display", "list-style-type", "cursor",
  "opacity", "filter", "background-color", "border-top-width", "border-top-color",
  "margin-top", "margin-right", "margin-bottom", "margin-left",
  "padding-top", "padding-right", "padding-bottom", "padding-left",
];
// What the page could change of the rail through its host element (width, margin and position
// are the partner's).
const HOST_LOOK = [
  "display", "padding-top", "padding-left", "border-top-width", "border-left-width",
  "background-color", "background-image", "box-shadow", "outline-style", "opacity", "filter",
  "zoom", "column-count", "text-decoration-line", "writing-mode", "direction",
];

// A page of the partner's site with the rail rendered (and its fonts loaded).
async function railPage(context, url, label) {
  const p = await context.newPage();
  p.on("console", (m) => console.log(`  console (${label}): ${m.text()}`));
  await p.goto(url);
  await p.waitForSelector('#rail[data-imprint-state="rendered"]', { state: "attached", timeout: 15000 });
  await p.evaluate(() => document.fonts.ready.then(() => undefined));
  // Both pages are compared once their covers are in.
  await p.waitForFunction(
    () => Array.from(document.getElementById("rail").shadowRoot.querySelectorAll("img.cover")).every((i) => i.complete),
    null,
    { timeout: 15000 }
  );
  return p;
}

// The computed style of every element in the rail's shadow root, named by tag, class and
// position (the same on both pages: the same publications), and of the host.
async function railStyles(p) {
  return p.evaluate(([look, hostLook]) => {
    const host = document.getElementById("rail");
    const seen = {};
    const pick = (style, properties) => Object.fromEntries(properties.map((x) => [x, style.getPropertyValue(x)]));
    const elements = Array.from(host.shadowRoot.querySelectorAll("*"))
      .filter((el) => el.localName !== "style")
      .map((el) => {
        const name = el.matches("ul.topics li")
          ? "ul.topics li"
          : el.localName + Array.from(el.classList, (c) => `.${c}`).join("");
        seen[name] = (seen[name] || 0) + 1;
        const text = Array.from(el.childNodes).some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
        return { name: `${name} ${seen[name]}`, text, style: pick(getComputedStyle(el), look) };
      });
    const partner = document.getElementById("partner-styles");
    return {
      elements,
      host: {
        style: pick(getComputedStyle(host), hostLook),
        before: getComputedStyle(host, "::before").content,
        after: getComputedStyle(host, "::after").content,
        partnerRules: partner && partner.sheet ? partner.sheet.cssRules.length : 0,
      },
    };
  }, [LOOK, HOST_LOOK]);
}

const browser = await launch();
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
  // A publication with a cover shows it, the browser picking a smaller copy from its srcset.
  const covers = page.locator("#rail img.cover");
  await page.waitForFunction(
    () => Array.from(document.getElementById("rail").shadowRoot.querySelectorAll("img.cover")).every((i) => i.complete),
    null,
    { timeout: 15000 }
  );
  const coverImgs = await covers.evaluateAll((imgs) =>
    imgs.map((i) => ({ alt: i.alt, natural: i.naturalWidth, current: i.currentSrc, src: i.src, srcset: i.srcset }))
  );
  check(
    coverImgs.length === Number(args.covers) && coverImgs.every((c) => c.natural > 0 && c.alt && c.srcset && c.current !== c.src),
    `each cover loads, from a smaller copy of its srcset: ${JSON.stringify(coverImgs)}`
  );

  // The partner's stylesheet hides every link and turns text red: not inside the shadow root.
  check(await links.first().isVisible(), "the partner's CSS cannot hide the widget's links");
  const color = await links.first().evaluate((a) => getComputedStyle(a).color);
  check(color !== "rgb(204, 0, 0)", `the partner's CSS cannot recolour them (${color})`);

  // The partner's stylesheet styles every element, the root and the rail's own element with
  // !important. The rail must look as it does on the same page without that stylesheet
  // (&plain=1), element by element: its computed styles, and its pixels.
  const plainUrl = new URL(args.partner);
  plainUrl.searchParams.set("plain", "1");
  const reference = await railPage(context, plainUrl.href, "plain");
  const hostile = await railPage(context, args.partner, "hostile");
  const [want, got] = [await railStyles(reference), await railStyles(hostile)];
  check(
    want.host.partnerRules === 0 && got.host.partnerRules > 0,
    `the reference page has no partner stylesheet, the partner's page has one (${got.host.partnerRules} rules)`
  );
  const count = (styles, name) => styles.elements.filter((e) => e.name.endsWith(name) || e.name.includes(`${name} `)).length;
  check(
    count(got, ".heading") === 1 && count(got, "a.title") === expected.length &&
      count(got, "p.meta") === expected.length && count(got, "p.summary") > 0 && count(got, "ul.topics li") > 0,
    `the rail's text elements are there to compare (${got.elements.filter((e) => e.text).length}: ` +
      `heading, ${count(got, "p.meta")} meta, ${count(got, "a.title")} titles, ` +
      `${count(got, "p.summary")} summaries, ${count(got, "ul.topics li")} topics)`
  );
  check(
    JSON.stringify(want.elements.map((e) => e.name)) === JSON.stringify(got.elements.map((e) => e.name)),
    `the rail has the same elements on both pages (${got.elements.length})`
  );
  const mismatches = [];
  for (const [i, mine] of got.elements.entries()) {
    const theirs = want.elements[i];
    if (!theirs || theirs.name !== mine.name) break;
    for (const property of LOOK) {
      if (mine.style[property] !== theirs.style[property]) {
        mismatches.push(`${mine.name} ${property}: ${JSON.stringify(mine.style[property])}, not ${JSON.stringify(theirs.style[property])}`);
      }
    }
  }
  for (const property of HOST_LOOK) {
    if (got.host.style[property] !== want.host.style[property]) {
      mismatches.push(`the host ${property}: ${JSON.stringify(got.host.style[property])}, not ${JSON.stringify(want.host.style[property])}`);
    }
  }
  for (const mismatch of mismatches) check(false, `the partner's CSS changes the rail: ${mismatch}`);
  check(
    mismatches.length === 0,
    `the partner's CSS changes none of ${LOOK.length} properties of ${got.elements.length} elements ` +
      `(nor ${HOST_LOOK.length} of the host) (${mismatches.length} differ)`
  );
  const red = got.elements.filter((e) => e.text && e.style.color === "rgb(204, 0, 0)").map((e) => e.name);
  check(red.length === 0, `no text in the rail is the partner's red (${red.length ? red.join(", ") : "none is"})`);
  const [before, after] = [got.host.before, got.host.after];
  check(before === "none" && after === "none", `the partner's ::before and ::after add nothing to the rail (${before}, ${after})`);

  // What computed styles do not show (decoration drawn from the host, ::first-line reaching
  // in, fonts): the rail's pixels are the reference's. Text is rasterised relative to the
  // pixel grid, and the text above the rail puts it at a different fraction of a pixel on
  // each page: both rails are first nudged (less than a pixel) onto whole pixels.
  for (const p of [reference, hostile]) {
    await p.evaluate(() => {
      const host = document.getElementById("rail");
      const box = host.getBoundingClientRect();
      host.style.setProperty("position", "relative", "important");
      host.style.setProperty("top", `${Math.ceil(box.top) - box.top}px`, "important");
      host.style.setProperty("left", `${Math.ceil(box.left) - box.left}px`, "important");
    });
  }
  const shot = { animations: "disabled", caret: "hide" };
  const wantPng = await reference.locator("#rail").screenshot(shot);
  const gotPng = await hostile.locator("#rail").screenshot(shot);
  if (args.screenshot) {
    fs.mkdirSync(path.dirname(path.resolve(args.screenshot)), { recursive: true });
    fs.writeFileSync(args.screenshot, gotPng);
    console.log(`  screenshot of the rail on the partner's page: ${path.resolve(args.screenshot)}`);
  }
  const diff = await reference.evaluate(async ([a, b]) => {
    const pixels = async (base64) => {
      const bitmap = await createImageBitmap(await (await fetch(`data:image/png;base64,${base64}`)).blob());
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const context = canvas.getContext("2d");
      context.drawImage(bitmap, 0, 0);
      return { width: bitmap.width, height: bitmap.height, data: context.getImageData(0, 0, bitmap.width, bitmap.height).data };
    };
    const [x, y] = [await pixels(a), await pixels(b)];
    if (x.width !== y.width || x.height !== y.height) {
      return { size: `${y.width}x${y.height}, not ${x.width}x${x.height}`, differ: -1 };
    }
    let differ = 0;
    const box = [x.width, x.height, -1, -1];
    for (let i = 0; i < x.data.length; i += 4) {
      // Edges drawn at another fraction of a pixel (the rounded chips) may differ by a shade.
      if ([0, 1, 2].some((c) => Math.abs(x.data[i + c] - y.data[i + c]) > 8)) {
        differ++;
        const [px, py] = [(i / 4) % x.width, Math.floor(i / 4 / x.width)];
        box.splice(0, 4, Math.min(box[0], px), Math.min(box[1], py), Math.max(box[2], px), Math.max(box[3], py));
      }
    }
    const where = differ ? `, from (${box[0]}, ${box[1]}) to (${box[2]}, ${box[3]})` : "";
    return { size: `${x.width}x${x.height}`, differ, where };
  }, [wantPng.toString("base64"), gotPng.toString("base64")]);
  check(
    diff.differ === 0,
    `the rail on the partner's page is the reference's, pixel for pixel (${diff.size}, ` +
      (diff.differ < 0 ? "another size)" : `${diff.differ} pixels differ by more than a shade${diff.where})`)
  );
  await reference.close();
  await hostile.close();

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
