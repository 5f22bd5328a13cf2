// The admin's one script: live preview, autosave, the Markdown toolbar, more source rows and a
// suggested slug. Every page works without it; it only makes writing quicker.
(function () {
  "use strict";
  const csrf = document.body.dataset.csrf || "";
  const form = document.getElementById("editor");

  // Confirmation before a destructive form goes.
  document.querySelectorAll("form[data-confirm]").forEach((f) => {
    f.addEventListener("submit", (e) => {
      if (!window.confirm(f.dataset.confirm)) e.preventDefault();
    });
  });

  // Drop an image on the upload form: it is chosen and sent.
  const upload = document.getElementById("upload");
  if (upload) {
    const input = upload.querySelector("input[type=file]");
    ["dragenter", "dragover"].forEach((ev) => upload.addEventListener(ev, (e) => {
      e.preventDefault();
      upload.classList.add("over");
    }));
    ["dragleave", "drop"].forEach((ev) => upload.addEventListener(ev, () => upload.classList.remove("over")));
    upload.addEventListener("drop", (e) => {
      e.preventDefault();
      if (e.dataTransfer && e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        upload.requestSubmit();
      }
    });
  }

  if (!form) return;
  const body = document.getElementById("body");
  const title = document.getElementById("title");
  const slug = document.getElementById("slug");
  const html = document.getElementById("preview-html");
  const text = document.getElementById("preview-text");
  const status = document.getElementById("autosave");

  function post(url, data) {
    return fetch(url, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/x-www-form-urlencoded" },
      body: data,
      credentials: "same-origin",
    });
  }

  // Live preview through the site's own pipeline (sanitized on the server).
  let previewTimer = null;
  function preview() {
    const data = new URLSearchParams({ body: body.value });
    post("/admin/preview", data).then((r) => r.ok ? r.json() : null).then((j) => {
      if (!j) return;
      html.innerHTML = j.html;
      text.textContent = j.text;
    }).catch(() => {});
  }
  body.addEventListener("input", () => {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, 300);
  });
  if (body.value) preview();

  // Page / plain-text tabs, with arrow keys between them.
  const tabs = form.querySelector(".tabs");
  if (tabs) {
    tabs.hidden = false;
    const buttons = Array.from(tabs.querySelectorAll("[role=tab]"));
    const select = (b) => {
      buttons.forEach((x) => {
        const on = x === b;
        x.setAttribute("aria-selected", on ? "true" : "false");
        x.tabIndex = on ? 0 : -1;
        document.getElementById(x.getAttribute("aria-controls")).hidden = !on;
      });
    };
    buttons.forEach((b, i) => {
      b.addEventListener("click", () => select(b));
      b.addEventListener("keydown", (e) => {
        const rtl = document.documentElement.dir === "rtl";
        const step = { ArrowRight: rtl ? -1 : 1, ArrowLeft: rtl ? 1 : -1 }[e.key];
        if (step) {
          const next = buttons[(i + step + buttons.length) % buttons.length];
          select(next);
          next.focus();
        }
      });
    });
    select(buttons[0]);
  }

  // The toolbar wraps the selection in Markdown.
  const toolbar = form.querySelector(".toolbar");
  if (toolbar) {
    toolbar.hidden = false;
    const wrap = (before, after, placeholder) => {
      const s = body.selectionStart, e = body.selectionEnd;
      const chosen = body.value.slice(s, e) || placeholder;
      body.setRangeText(before + chosen + after, s, e, "select");
      body.focus();
      body.dispatchEvent(new Event("input"));
    };
    const line = (prefix) => {
      const s = body.selectionStart;
      const start = body.value.lastIndexOf("\n", s - 1) + 1;
      body.setRangeText(prefix, start, start, "end");
      body.focus();
      body.dispatchEvent(new Event("input"));
    };
    toolbar.addEventListener("click", (e) => {
      const b = e.target.closest("button[data-md]");
      if (!b) return;
      switch (b.dataset.md) {
        case "h2": line("## "); break;
        case "bold": wrap("**", "**", "…"); break;
        case "italic": wrap("_", "_", "…"); break;
        case "ul": line("- "); break;
        case "ol": line("1. "); break;
        case "quote": line("> "); break;
        case "link": wrap("[", "](https://)", "…"); break;
        case "image": wrap("![", "](/media/)", "…"); break;
      }
    });
  }

  // Names used before: a click adds one to its list field.
  form.querySelectorAll(".suggest").forEach((p) => {
    p.hidden = false;
    const input = document.getElementById(p.dataset.for);
    p.addEventListener("click", (e) => {
      const b = e.target.closest("button[data-add]");
      if (!b) return;
      const have = input.value.split(/[,،]/).map((x) => x.trim()).filter(Boolean);
      if (!have.includes(b.dataset.add)) have.push(b.dataset.add);
      input.value = have.join(", ");
      input.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });

  // One more source row on demand.
  const add = document.getElementById("add-source");
  const tpl = document.getElementById("source-template");
  const sources = document.getElementById("sources");
  if (add && tpl && sources) {
    add.hidden = false;
    add.addEventListener("click", () => {
      const n = sources.querySelectorAll("fieldset").length + 1;
      sources.insertAdjacentHTML("beforeend", tpl.innerHTML.replaceAll('N"', n + '"'));
      const row = sources.lastElementChild;
      const legend = row.querySelector("legend");
      legend.textContent = legend.textContent.replace("N", new Intl.NumberFormat(document.documentElement.lang).format(n));
      row.querySelector("input").focus();
    });
  }

  // A slug suggested from the title until someone types one.
  let slugTouched = slug.value !== "";
  slug.addEventListener("input", () => { slugTouched = true; });
  title.addEventListener("input", () => {
    if (slugTouched) return;
    slug.value = title.value.toLowerCase().normalize("NFC")
      .replace(/[^\p{L}\p{N}]+/gu, "-").replace(/^-+|-+$/g, "");
  });

  // Autosave: a draft saves as itself; a live post's edits are kept as a revision only. A new
  // post is created on its first autosave and the page's address follows it.
  let dirty = false, saving = false, stopped = false;
  form.addEventListener("input", () => { dirty = true; });
  function autosave() {
    if (!dirty || saving || stopped || !title.value.trim()) return;
    saving = true;
    dirty = false;
    const data = new URLSearchParams(new FormData(form));
    data.set("action", "save");
    let url = form.dataset.post ? "/admin/posts/" + form.dataset.post + "/autosave" : "/admin/posts/new";
    if (!form.dataset.post) data.set("autosave", "1");
    post(url, data).then((r) => r.json().then((j) => ({ ok: r.ok, status: r.status, j }))).then(({ ok, status: code, j }) => {
      saving = false;
      if (ok) {
        if (j.id) {
          form.dataset.post = j.id;
          form.action = "/admin/posts/" + j.id;
          history.replaceState(null, "", "/admin/posts/" + j.id);
        }
        form.querySelector("[name=version]").value = j.version;
        const t = new Date().toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" });
        status.textContent = (status.dataset.done || "✓") + " " + t;
      } else if (code === 409) {
        stopped = true;
        status.textContent = j.message || "";
      } else {
        dirty = true;
      }
    }).catch(() => { saving = false; dirty = true; });
  }
  setInterval(autosave, 15000);
  window.addEventListener("beforeunload", (e) => {
    if (dirty && !form.dataset.submitting) { e.preventDefault(); }
  });
  form.addEventListener("submit", () => { form.dataset.submitting = "1"; });
})();

// A running job's progress follows on its own: the page is fetched again and its progress part
// swapped in, until the job is over (the part then no longer asks to be refreshed). Without the
// script the page has a refresh link.
(() => {
  const part = document.querySelector("[data-refresh]");
  if (!part) return;
  const again = () => {
    fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then((r) => r.text())
      .then((html) => {
        const doc = new DOMParser().parseFromString(html, "text/html");
        const fresh = doc.getElementById(part.id);
        if (!fresh) return;
        part.innerHTML = fresh.innerHTML;
        if (fresh.hasAttribute("data-refresh")) {
          setTimeout(again, 1500);
        } else {
          part.removeAttribute("data-refresh");
        }
      })
      .catch(() => setTimeout(again, 5000));
  };
  setTimeout(again, 1500);
})();

// The edition composer: items reorder by dragging (the order is saved at the drop, as the move
// buttons do without the script), and the intro is previewed as the site renders Markdown.
(() => {
  const composer = document.getElementById("composer");
  if (!composer) return;
  const csrf = document.body.dataset.csrf || "";
  const list = document.getElementById("items");
  if (list && list.tagName === "OL") {
    let dragged = null;
    list.querySelectorAll("li").forEach((li) => {
      li.draggable = true;
      li.addEventListener("dragstart", (e) => {
        dragged = li;
        li.classList.add("dragging");
        e.dataTransfer.effectAllowed = "move";
        e.dataTransfer.setData("text/plain", li.dataset.id);
      });
      li.addEventListener("dragend", () => {
        li.classList.remove("dragging");
        list.querySelectorAll(".over").forEach((x) => x.classList.remove("over"));
      });
      li.addEventListener("dragover", (e) => {
        if (!dragged || dragged === li) return;
        e.preventDefault();
        li.classList.add("over");
      });
      li.addEventListener("dragleave", () => li.classList.remove("over"));
      li.addEventListener("drop", (e) => {
        e.preventDefault();
        li.classList.remove("over");
        if (!dragged || dragged === li) return;
        const items = Array.from(list.children);
        const after = items.indexOf(dragged) < items.indexOf(li);
        li.insertAdjacentElement(after ? "afterend" : "beforebegin", dragged);
        dragged = null;
        composer.requestSubmit(composer.querySelector("button[name=op][value=save]"));
      });
    });
  }
  const intro = document.getElementById("intro");
  const out = document.getElementById("intro-preview");
  if (intro && out) {
    out.parentElement.hidden = false;
    let timer = null;
    const show = () => {
      fetch("/admin/preview", {
        method: "POST",
        headers: { "X-CSRF-Token": csrf, "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ body: intro.value, short: "1" }),
        credentials: "same-origin",
      }).then((r) => r.ok ? r.json() : null).then((j) => { if (j) out.innerHTML = j.html; }).catch(() => {});
    };
    intro.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(show, 300); });
    if (intro.value) show();
  }
})();
