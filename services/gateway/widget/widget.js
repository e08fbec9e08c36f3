/*!
 * Imprint related-publications widget. No dependencies, no cookies.
 *
 * On a partner page:
 *   <div data-imprint-related data-key="pk_…" data-slug="a-paper-slug" data-limit="3"
 *        data-heading-level="2" data-region="south-asia"></div>
 *   <script src="https://publications.example.org/widget.js" async></script>
 *
 * Each such element gets a "Related Publications" rail, rendered in a shadow root so that the
 * page's styles cannot reach it: a list of links with each publication's date, type, summary
 * and topics. data-region, data-program and data-series (slugs) keep the rail to publications of
 * that region (its countries included), program or series. Impressions (when the rail is seen)
 * and clicks are reported to the API with the partner's key. Elements added later can be
 * rendered with window.ImprintRelated.render(el).
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) return;
  var base = new URL(script.src).origin;

  // The page's rules reach the rail by two paths, and each is closed here. Through the host
  // element: the page's rules for it beat :host's unless :host's are !important; so :host
  // resets with !important what would show in the rail (a frame, padding, a filter, a zoom,
  // columns, text decoration, which is drawn through every descendant, generated content) and
  // leaves the host's size and place (width, height, margin, position) and its visibility to
  // the partner; the hidden attribute still hides it. By inheritance: .imprint-root starts from
  // all:initial (which leaves direction and unicode-bidi to be set) and sets the rail's own
  // type, so nothing in it inherits from the page but visibility, so that a partner hiding a
  // container also hides the rail. Sizes are em of the root's `medium`, the reader's own
  // default size (rem would follow the page's root font size, which the page sets).
  var CSS = [
    ":host{display:block !important;padding:0 !important;border:0 !important;background:none !important;" +
      "box-shadow:none !important;outline:0 !important;opacity:1 !important;filter:none !important;" +
      "backdrop-filter:none !important;mix-blend-mode:normal !important;clip-path:none !important;" +
      "mask:none !important;zoom:1 !important;columns:auto !important;text-decoration:none !important;" +
      "writing-mode:horizontal-tb !important;direction:ltr !important}",
    ":host([hidden]){display:none !important}",
    ":host::before,:host::after{content:none !important;display:none !important}",
    // A block container's first line and first letter reach into its block descendants; a
    // flex container is not one, so the host's ::first-line and ::first-letter stop here.
    ".imprint-root{all:initial;direction:ltr;unicode-bidi:isolate;visibility:inherit;" +
      "display:flex;flex-direction:column;" +
      "font-family:Georgia,'Times New Roman',serif;font-size:medium;font-weight:400;font-style:normal;" +
      "line-height:1.45;color:#1a1a1a;letter-spacing:normal;word-spacing:normal;text-align:start;" +
      "-webkit-text-size-adjust:100%;text-size-adjust:100%}",
    "section{display:block;margin:0;padding:0}",
    ".heading{display:block;font-size:1.25em;margin:0 0 .6em;padding:0;font-weight:700;letter-spacing:.01em}",
    "ul.items{list-style:none;margin:0;padding:0;display:grid;gap:1.25em}",
    "li.item{display:block;border-top:1px solid #d6d6d6;margin:0;padding:.75em 0 0}",
    ".meta{font:600 .8em/1.3 system-ui,sans-serif;color:#555;text-transform:uppercase;letter-spacing:.04em;margin:0 0 .3125em;padding:0}",
    "a.title{display:inline;color:#0b3d91;font-size:1.05em;font-weight:700;text-decoration:none;cursor:pointer}",
    "a.title:hover{text-decoration:underline}",
    "a.title:focus-visible{outline:3px solid #f2a900;outline-offset:2px;border-radius:2px}",
    "img.cover{display:block;width:100%;max-width:12em;height:auto;margin:0 0 .5em;padding:0;border:0;border-radius:2px}",
    "p.summary{margin:.3684em 0 .4211em;padding:0;font-size:.95em;display:-webkit-box;-webkit-line-clamp:4;-webkit-box-orient:vertical;overflow:hidden}",
    "ul.topics{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.4em}",
    "ul.topics li{display:block;font:400 .75em/1.2 system-ui,sans-serif;background:#eef2f7;color:#22324a;margin:0;padding:.2667em .6667em;border-radius:999px}"
  ].join("");

  function text(tag, className, value) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    if (value) el.textContent = value;
    return el;
  }

  // A paper's cover: the copy that fits the rail (srcset), its size reserved before it loads.
  function cover(image) {
    var img = document.createElement("img");
    img.className = "cover";
    img.src = image.url;
    if (image.srcset) img.srcset = image.srcset;
    img.sizes = "12em";
    img.alt = image.alt || "";
    if (image.width && image.height) {
      img.width = image.width;
      img.height = image.height;
    }
    // Not lazy: a rail holds a few small copies, and a partner's page often sets it below
    // the fold, where lazy images wait for a scroll to start loading.
    img.decoding = "async";
    return img;
  }

  function date(iso) {
    if (!iso) return "";
    try {
      return new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
        year: "numeric", month: "long", day: "numeric", timeZone: "UTC"
      }).format(new Date(iso));
    } catch (e) {
      return iso.slice(0, 10);
    }
  }

  // Each serving of a rail comes with a view (the Imprint-View header); reports name it, and
  // each item's impression and click count once per view.
  function report(key, view, events) {
    if (!events.length || !view) return;
    // text/plain keeps it a simple request: no preflight; keepalive lets a click's report
    // outlive the navigation it starts.
    try {
      fetch(base + "/v1/interactions?key=" + encodeURIComponent(key), {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        keepalive: true,
        headers: { "content-type": "text/plain;charset=UTF-8" },
        body: JSON.stringify({ view: view, events: events })
      }).catch(function () {});
    } catch (e) { /* reporting never breaks the page */ }
  }

  function render(host) {
    if (!host || host.__imprintRendered) return;
    var key = host.getAttribute("data-key") || "";
    var slug = host.getAttribute("data-slug") || "";
    var limit = parseInt(host.getAttribute("data-limit") || "3", 10) || 3;
    var heading = host.getAttribute("data-heading") || "Related Publications";
    var level = parseInt(host.getAttribute("data-heading-level") || "2", 10);
    if (!(level >= 2 && level <= 6)) level = 2;
    if (!key || !slug) {
      console.warn("imprint widget: data-key and data-slug are required", host);
      return;
    }
    // Without a shadow root the page's styles would reach the rail, and the rail's the page:
    // render nothing rather than something broken.
    var root;
    try {
      root = host.attachShadow({ mode: "open" });
    } catch (e) {
      console.warn("imprint widget: this element cannot hold the rail (use a div)", host);
      host.setAttribute("data-imprint-state", "failed");
      return;
    }
    host.__imprintRendered = true;
    var url = base + "/v1/papers/" + encodeURIComponent(slug) + "/related?limit=" +
      encodeURIComponent(String(Math.min(Math.max(limit, 1), 50))) + "&key=" + encodeURIComponent(key);
    ["region", "program", "series"].forEach(function (name) {
      var value = host.getAttribute("data-" + name);
      if (value) url += "&" + name + "=" + encodeURIComponent(value);
    });
    var view = "";
    fetch(url, { mode: "cors", credentials: "omit" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        view = response.headers.get("Imprint-View") || "";
        return response.json();
      })
      .then(function (data) {
        var items = (data && data.related) || [];
        if (!items.length) return;
        var style = document.createElement("style");
        style.textContent = CSS;
        var wrapper = text("div", "imprint-root");
        var section = document.createElement("section");
        var id = "imprint-related-" + Math.random().toString(36).slice(2);
        section.setAttribute("aria-labelledby", id);
        var title = text("h" + level, "heading", heading);
        title.id = id;
        section.appendChild(title);
        var list = text("ul", "items");
        items.forEach(function (item, index) {
          var li = text("li", "item");
          if (item.cover) li.appendChild(cover(item.cover));
          var meta = [date(item.published), item.type_label].filter(Boolean).join(" · ");
          if (meta) li.appendChild(text("p", "meta", meta));
          var a = text("a", "title", item.title);
          a.href = item.url;
          a.setAttribute("data-position", String(index + 1));
          a.addEventListener("click", function () {
            report(key, view, [{ recommendation_id: item.recommendation_id, kind: "click" }]);
          });
          li.appendChild(a);
          if (item.summary) li.appendChild(text("p", "summary", item.summary));
          if (item.topics && item.topics.length) {
            var topics = text("ul", "topics");
            topics.setAttribute("aria-label", "Topics");
            item.topics.forEach(function (t) { topics.appendChild(text("li", "", t)); });
            li.appendChild(topics);
          }
          list.appendChild(li);
        });
        section.appendChild(list);
        wrapper.appendChild(section);
        root.appendChild(style);
        root.appendChild(wrapper);
        var impressions = items.map(function (item) {
          return { recommendation_id: item.recommendation_id, kind: "impression" };
        });
        var seen = false;
        function shown() {
          if (seen) return;
          seen = true;
          report(key, view, impressions);
        }
        if ("IntersectionObserver" in window) {
          var observer = new IntersectionObserver(function (entries) {
            if (entries.some(function (e) { return e.isIntersecting; })) {
              observer.disconnect();
              shown();
            }
          });
          observer.observe(host);
        } else {
          shown();
        }
        host.setAttribute("data-imprint-state", "rendered");
      })
      .catch(function (error) {
        host.setAttribute("data-imprint-state", "failed");
        console.warn("imprint widget: no related publications for " + slug + ": " + error.message);
      });
  }

  function renderAll() {
    var hosts = document.querySelectorAll("[data-imprint-related]");
    for (var i = 0; i < hosts.length; i++) render(hosts[i]);
  }

  window.ImprintRelated = { render: render };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", renderAll);
  } else {
    renderAll();
  }
})();
