// Shepherd sandbox console: a small Slack in the browser, driven only through /control/ and its SSE feed.
// Everything that came from the app (text, blocks, file names) is put on the page with textContent or
// as DOM nodes built here: mrkdwn is parsed, never handed to innerHTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const state = {
    users: {}, groups: {}, channels: {}, humans: [], botUser: "", commands: [],
    me: null, channel: null, surface: "channel", thread: null,
    messages: [], threadMessages: [], ephemerals: [], dismissed: new Set(),
    modal: null, home: null, unread: new Set(), appConnected: false,
  };

  // ---- talking to the sandbox ----------------------------------------------------------------

  async function getJSON(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    const body = await response.json();
    if (!response.ok) throw new Error(`${path}: ${body.error || response.status}`);
    return body;
  }

  async function post(path, payload) {
    const response = await fetch(path, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload),
    });
    let body = {};
    try { body = await response.json(); } catch (_) { /* not JSON: status says enough */ }
    return { status: response.status, body };
  }

  function toast(text) {
    const el = $("toast");
    el.textContent = text;
    el.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { el.hidden = true; }, 6000);
  }

  /** Say what went wrong with an acting call (a click, a command, a submission), if anything did. */
  function report(result) {
    const { status, body } = result;
    if (status === 503) return toast("Shepherd is not connected to the sandbox (no app to deliver to).");
    if (status === 422) return null;  // Slack's client refused the form: the modal shows why, inline
    if (status >= 400) return toast(`Sandbox refused: ${body.error || status}${body.detail ? ` (${body.detail})` : ""}`);
    const delivery = body && body.delivery;
    if (delivery && delivery.error) return toast(`Delivery to Shepherd failed: ${delivery.error}`);
    if (delivery && body.acked === false) return toast("Shepherd did not answer in time.");
    return null;
  }

  // ---- mrkdwn -> DOM -----------------------------------------------------------------------------

  const INLINE = /```([\s\S]*?)```|`([^`\n]+)`|<([^<>\n]+)>|\*([^*\n]+)\*|_([^_\n]+)_|~([^~\n]+)~/g;
  const WORD = /[A-Za-z0-9]/;

  function unescapeSlack(text) {
    return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function safeUrl(url) {
    if (!/^(https?:\/\/|mailto:)/i.test(url)) return null;  // absolute links only: no javascript:, no relative
    try {
      const parsed = new URL(url, location.href);
      return ["http:", "https:", "mailto:"].includes(parsed.protocol) ? parsed.href : null;
    } catch (_) { return null; }
  }

  /** ``<...>``: a link, a mention of a person, channel or group, or a special mention. */
  function angle(inner) {
    const [target, label] = inner.split("|", 2);
    if (target.startsWith("@")) {
      const user = state.users[target.slice(1)];
      return el("span", "mention", `@${user ? user.name : (label || target.slice(1))}`);
    }
    if (target.startsWith("#")) {
      const channel = state.channels[target.slice(1)];
      return el("span", "mention", `#${channel && channel.name ? channel.name : (label || target.slice(1))}`);
    }
    if (target.startsWith("!subteam^")) {
      const group = state.groups[target.slice(9)];
      return el("span", "mention", group ? `@${group.handle}` : (label || "@group"));
    }
    if (target.startsWith("!")) {
      const word = target.slice(1).split("^")[0];
      if (["here", "channel", "everyone"].includes(word)) return el("span", "mention", `@${word}`);
      return document.createTextNode(unescapeSlack(label || word));
    }
    const href = safeUrl(unescapeSlack(target));
    if (!href) return document.createTextNode(unescapeSlack(label || `<${inner}>`));
    const link = el("a", null, unescapeSlack(label || target));
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    return link;
  }

  function boundaryOK(text, start, end) {
    return (start === 0 || !WORD.test(text[start - 1])) && (end >= text.length || !WORD.test(text[end]));
  }

  function mrkdwnInto(parent, text) {
    const re = new RegExp(INLINE.source, "g");
    let last = 0;
    let m;
    while ((m = re.exec(text))) {
      const styled = m[4] !== undefined || m[5] !== undefined || m[6] !== undefined;
      if (styled && !boundaryOK(text, m.index, m.index + m[0].length)) { re.lastIndex = m.index + 1; continue; }
      if (m.index > last) parent.append(unescapeSlack(text.slice(last, m.index)));
      if (m[1] !== undefined) parent.append(el("pre", null, unescapeSlack(m[1].replace(/^\n/, ""))));
      else if (m[2] !== undefined) parent.append(el("code", null, unescapeSlack(m[2])));
      else if (m[3] !== undefined) parent.append(angle(m[3]));
      else {
        const node = el(m[4] !== undefined ? "b" : m[5] !== undefined ? "i" : "s");
        mrkdwnInto(node, m[4] ?? m[5] ?? m[6]);
        parent.append(node);
      }
      last = m.index + m[0].length;
    }
    if (last < text.length) parent.append(unescapeSlack(text.slice(last)));
    return parent;
  }

  /** A Block Kit text object: mrkdwn parsed, plain_text as is. */
  function textObject(obj, className) {
    if (!obj) return el("span");
    if (typeof obj === "string") return mrkdwnInto(el("div", `mrkdwn ${className || ""}`), obj);
    if (obj.type === "mrkdwn") return mrkdwnInto(el("div", `mrkdwn ${className || ""}`), obj.text || "");
    return el("div", `plain ${className || ""}`, obj.text || "");
  }

  function plain(obj) { return obj ? (typeof obj === "string" ? obj : obj.text || "") : ""; }

  // ---- markdown files (a small, safe subset) -------------------------------------------------------

  function markdownInline(parent, text) {
    const re = /`([^`]+)`|\*\*([^*]+)\*\*|\*([^*]+)\*|\[([^\]]+)\]\(([^)\s]+)\)/g;
    let last = 0;
    let m;
    while ((m = re.exec(text))) {
      if (m.index > last) parent.append(text.slice(last, m.index));
      if (m[1] !== undefined) parent.append(el("code", null, m[1]));
      else if (m[2] !== undefined) parent.append(el("b", null, m[2]));
      else if (m[3] !== undefined) parent.append(el("i", null, m[3]));
      else {
        const href = safeUrl(m[5]);
        if (href) { const a = el("a", null, m[4]); a.href = href; a.target = "_blank"; a.rel = "noopener noreferrer"; parent.append(a); }
        else parent.append(m[4]);
      }
      last = m.index + m[0].length;
    }
    if (last < text.length) parent.append(text.slice(last));
    return parent;
  }

  function markdown(text) {
    const root = el("div", "markdown");
    const lines = text.split("\n");
    let list = null;
    let para = null;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line.startsWith("```")) {
        const code = [];
        for (i++; i < lines.length && !lines[i].startsWith("```"); i++) code.push(lines[i]);
        root.append(el("pre", null, code.join("\n")));
        list = para = null;
        continue;
      }
      const heading = /^(#{1,6})\s+(.*)$/.exec(line);
      const item = /^\s*(?:[-*+]|\d+\.)\s+(.*)$/.exec(line);
      if (heading) { root.append(markdownInline(el(`h${Math.min(heading[1].length, 3)}`), heading[2])); list = para = null; }
      else if (item) {
        if (!list) { list = el(/^\s*\d/.test(line) ? "ol" : "ul"); root.append(list); }
        list.append(markdownInline(el("li"), item[1]));
        para = null;
      } else if (!line.trim()) { list = para = null; }
      else {
        if (!para) { para = el("p"); root.append(para); } else para.append(" ");
        markdownInline(para, line);
        list = null;
      }
    }
    return root;
  }

  // ---- Block Kit -----------------------------------------------------------------------------------

  /** ctx: {surface: "message"|"ephemeral"|"modal"|"home", channel, ts, viewId, errors} */
  function renderBlocks(blocks, ctx) {
    const root = el("div", "blocks");
    for (const block of blocks || []) root.append(renderBlock(block, ctx));
    return root;
  }

  function renderBlock(block, ctx) {
    switch (block.type) {
      case "header": return el("div", "block-header", plain(block.text));
      case "divider": return el("hr", "block-divider");
      case "section": {
        const node = el("div", "block-section");
        const main = el("div", "section-main");
        if (block.text) main.append(textObject(block.text));
        if (block.fields) {
          const fields = el("div", "fields");
          for (const field of block.fields) fields.append(textObject(field, "field"));
          main.append(fields);
        }
        node.append(main);
        if (block.accessory) node.append(renderElement(block.accessory, block, ctx));
        return node;
      }
      case "context": {
        const node = el("div", "block-context");
        for (const item of block.elements || []) {
          node.append(item.type === "image" ? image(item.image_url, item.alt_text) : textObject(item));
        }
        return node;
      }
      case "actions": {
        const node = el("div", "block-actions");
        for (const element of block.elements || []) node.append(renderElement(element, block, ctx));
        return node;
      }
      case "image": {
        const node = el("figure", "block-image");
        node.append(image(block.image_url || (block.slack_file && block.slack_file.url), block.alt_text));
        if (block.title) node.append(el("figcaption", null, plain(block.title)));
        return node;
      }
      case "input": return renderInput(block, ctx);
      case "rich_text": return el("div", "plain", richText(block));
      default: return el("div", "block-unknown", `[${block.type} block]`);
    }
  }

  function richText(block) {
    const out = [];
    const walk = (node) => {
      if (node.type === "text" || node.type === "link") out.push(node.text || node.url || "");
      else if (node.type === "user") out.push(`@${(state.users[node.user_id] || {}).name || node.user_id}`);
      else if (node.type === "emoji") out.push(`:${node.name}:`);
      (node.elements || []).forEach(walk);
      if (["rich_text_section", "rich_text_preformatted", "rich_text_quote"].includes(node.type)) out.push("\n");
    };
    (block.elements || []).forEach(walk);
    return out.join("").replace(/\n$/, "");
  }

  function image(url, alt) {
    const img = el("img");
    const href = safeUrl(url || "");
    if (href) img.src = href;
    img.alt = alt || "";
    img.title = alt || "";
    img.loading = "lazy";
    return img;
  }

  /** A person uses an element: a button, or a select/checkbox/date in a message, the Home tab or a modal. */
  async function act(element, block, ctx, selected) {
    const payload = { user: state.me, action_id: element.action_id, block_id: block.block_id };
    if (ctx.viewId) payload.view_id = ctx.viewId;
    else { payload.channel = ctx.channel; payload.ts = ctx.ts; }
    if (selected !== undefined) payload.selected = selected;
    report(await post("/control/actions", payload));
  }

  function optionList(element) {
    const options = [...(element.options || [])];
    for (const group of element.option_groups || []) options.push(...(group.options || []));
    return options;
  }

  function humanOptions(select, placeholder) {
    select.append(new Option(placeholder || "Choose a person", ""));
    for (const user of state.humans) select.append(new Option(`${user.real_name} (@${user.name})`, user.id));
  }

  /** Interactive elements outside input blocks: every change is a block_actions right away. */
  function renderElement(element, block, ctx) {
    switch (element.type) {
      case "button": {
        const button = el("button", `bk-button ${element.style || ""}`.trim(), plain(element.text));
        button.type = "button";
        if (element.url && safeUrl(element.url)) button.title = element.url;
        button.addEventListener("click", async () => {
          button.disabled = true;
          try { await act(element, block, ctx); } finally { button.disabled = false; }
          if (element.url && safeUrl(element.url)) window.open(safeUrl(element.url), "_blank", "noopener");
        });
        return button;
      }
      case "image": return image(element.image_url, element.alt_text);
      case "static_select": case "overflow": case "external_select": {
        const select = el("select", "bk-select");
        select.append(new Option(plain(element.placeholder) || (element.type === "overflow" ? "…" : "Choose"), ""));
        for (const option of optionList(element)) select.append(new Option(plain(option.text), option.value));
        select.addEventListener("change", () => select.value && act(element, block, ctx, select.value));
        return select;
      }
      case "users_select": {
        const select = el("select", "bk-select");
        humanOptions(select, plain(element.placeholder));
        select.addEventListener("change", () => select.value && act(element, block, ctx, select.value));
        return select;
      }
      case "checkboxes": case "radio_buttons": {
        const box = el("div", "bk-options");
        const kind = element.type === "checkboxes" ? "checkbox" : "radio";
        const name = `${block.block_id}-${element.action_id}-${Math.random()}`;
        for (const option of optionList(element)) {
          const label = el("label", "checkbox");
          const input = el("input");
          input.type = kind; input.name = name; input.value = option.value;
          label.append(input, plain(option.text));
          box.append(label);
        }
        box.addEventListener("change", () => {
          const chosen = [...box.querySelectorAll("input:checked")].map((i) => i.value);
          act(element, block, ctx, kind === "checkbox" ? chosen : chosen[0]);
        });
        return box;
      }
      case "datepicker": {
        const input = el("input");
        input.type = "date";
        if (element.initial_date) input.value = element.initial_date;
        input.addEventListener("change", () => act(element, block, ctx, input.value));
        return input;
      }
      default: return el("span", "block-unknown", `[${element.type}]`);
    }
  }

  /** An input block in a modal: its control carries data-block/data-action/data-kind for submission. */
  function renderInput(block, ctx) {
    const element = block.element || {};
    const node = el("div", "block-input");
    node.dataset.blockId = block.block_id || "";
    const label = el("label", "input-label", plain(block.label));
    if (block.optional) label.append(" ", el("span", "optional", "(optional)"));
    const id = `input-${block.block_id}-${element.action_id}`.replace(/[^A-Za-z0-9_-]/g, "_");
    label.htmlFor = id;
    let control;
    switch (element.type) {
      case "plain_text_input": case "email_text_input": case "url_text_input":
        if (element.multiline) control = el("textarea");
        else { control = el("input"); control.type = element.type === "email_text_input" ? "email" : "text"; }
        if (element.initial_value) control.value = element.initial_value;
        if (element.max_length) control.maxLength = element.max_length;
        break;
      case "number_input":
        control = el("input");
        control.type = "number";
        control.step = element.is_decimal_allowed ? "any" : "1";
        if (element.min_value !== undefined) control.min = element.min_value;
        if (element.max_value !== undefined) control.max = element.max_value;
        if (element.initial_value !== undefined) control.value = element.initial_value;
        break;
      case "static_select":
        control = el("select");
        control.append(new Option(plain(element.placeholder) || "Choose", ""));
        for (const option of optionList(element)) control.append(new Option(plain(option.text), option.value));
        if (element.initial_option) control.value = element.initial_option.value;
        break;
      case "users_select":
        control = el("select");
        humanOptions(control, plain(element.placeholder));
        if (element.initial_user) control.value = element.initial_user;
        break;
      case "checkboxes": case "radio_buttons": {
        control = el("div", "bk-options");
        const initial = new Set((element.initial_options || (element.initial_option ? [element.initial_option] : []))
          .map((o) => o.value));
        for (const option of optionList(element)) {
          const row = el("label", "checkbox");
          const input = el("input");
          input.type = element.type === "checkboxes" ? "checkbox" : "radio";
          input.name = id;
          input.value = option.value;
          input.checked = initial.has(option.value);
          row.append(input, plain(option.text));
          control.append(row);
        }
        break;
      }
      case "datepicker":
        control = el("input");
        control.type = "date";
        if (element.initial_date) control.value = element.initial_date;
        break;
      default:
        control = el("span", "block-unknown", `[${element.type} input]`);
    }
    control.id = id;
    control.classList.add("input-control");
    control.dataset.blockId = block.block_id || "";
    control.dataset.actionId = element.action_id || "";
    control.dataset.kind = element.type || "";
    if (element.placeholder && "placeholder" in control) control.placeholder = plain(element.placeholder);
    node.append(label, control);
    if (block.hint) node.append(el("div", "hint", plain(block.hint)));
    const error = ctx.errors && ctx.errors[block.block_id];
    if (error) {
      node.classList.add("has-error");
      node.append(el("div", "input-error", error));
    }
    return node;
  }

  function readInput(control) {
    const kind = control.dataset.kind;
    if (kind === "checkboxes") return [...control.querySelectorAll("input:checked")].map((i) => i.value);
    if (kind === "radio_buttons") { const c = control.querySelector("input:checked"); return c ? c.value : null; }
    return control.value === "" ? null : control.value;
  }

  function writeInput(control, value) {
    if (control.dataset.kind === "checkboxes" || control.dataset.kind === "radio_buttons") {
      const chosen = new Set([].concat(value || []));
      control.querySelectorAll("input").forEach((i) => { i.checked = chosen.has(i.value); });
    } else if ("value" in control) control.value = value ?? "";
  }

  function formValues(root) {
    const values = {};
    for (const control of root.querySelectorAll(".input-control[data-block-id]")) {
      const { blockId, actionId } = control.dataset;
      (values[blockId] ||= {})[actionId] = readInput(control);
    }
    return values;
  }

  // ---- messages ------------------------------------------------------------------------------------

  const COLORS = ["#e8912d", "#2bac76", "#1264a3", "#e01e5a", "#4a154b", "#36c5f0", "#9f69e7"];

  function avatar(userId) {
    const user = state.users[userId] || {};
    const label = (user.real_name || user.name || userId || "?").trim();
    const node = el("div", "avatar", label[0].toUpperCase());
    let hash = 0;
    for (const c of userId || "") hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
    node.style.background = COLORS[hash % COLORS.length];
    node.setAttribute("aria-hidden", "true");
    return node;
  }

  function timeOf(ts) {
    const date = new Date(parseFloat(ts) * 1000);
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function formatSize(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  const TEXT_PREVIEW = ["md", "markdown", "txt", "json", "yaml", "yml", "csv", "py", "log", "text"];

  function renderFile(file) {
    const node = el("div", "file");
    node.dataset.fileId = file.id;
    const head = el("div", "file-head");
    const content = `/control/files/${encodeURIComponent(file.id)}/content`;
    const link = el("a", "file-name", file.title || file.name);
    link.href = content;
    link.download = file.name;
    const download = el("a", "file-download", "Download");
    download.href = content;
    download.download = file.name;
    head.append(link, el("span", "file-size", `${(file.pretty_type || "").toLowerCase()} · ${formatSize(file.size || 0)}`), download);
    node.append(head);
    if ((file.mimetype || "").startsWith("image/") && file.mimetype !== "image/svg+xml") {
      const img = el("img");
      img.src = content;
      img.alt = file.alt_txt || file.name;
      node.append(img);
    } else if (TEXT_PREVIEW.includes(file.filetype)) {
      const preview = el("div", "file-preview", "Loading preview…");
      node.append(preview);
      fetch(content).then((r) => (r.ok ? r.text() : Promise.reject(new Error(r.status)))).then((text) => {
        preview.textContent = "";
        const shown = text.length > 20000 ? `${text.slice(0, 20000)}\n…` : text;
        preview.append(["md", "markdown"].includes(file.filetype) ? markdown(shown) : el("pre", null, shown));
      }).catch(() => { preview.textContent = "(no preview: the file's bytes are not uploaded yet)"; });
    }
    return node;
  }

  function renderAttachment(attachment, ctx) {
    const node = el("div", "attachment");
    const color = attachment.color || "";
    const named = { good: "#2eb67d", warning: "#ecb22e", danger: "#e01e5a" };
    if (named[color]) node.style.borderLeftColor = named[color];
    else if (/^#?[0-9a-f]{3,8}$/i.test(color)) node.style.borderLeftColor = color.startsWith("#") ? color : `#${color}`;
    if (attachment.pretext) node.append(textObject(attachment.pretext));
    if (attachment.title) node.append(el("div", "author", attachment.title));
    if (attachment.text) node.append(textObject(attachment.text));
    if (attachment.fields) {
      const fields = el("div", "fields");
      for (const f of attachment.fields) {
        const cell = el("div");
        cell.append(el("b", null, f.title || ""), textObject(f.value || ""));
        fields.append(cell);
      }
      node.append(fields);
    }
    if (attachment.blocks) node.append(renderBlocks(attachment.blocks, ctx));
    if (attachment.footer) node.append(el("div", "block-context", attachment.footer));
    return node;
  }

  /** One message or ephemeral; ``where`` is "channel" or "thread". */
  function pingName(who) {
    if (who.startsWith("subteam^")) {
      const group = state.groups[who.slice(8)];
      return `@${group ? group.handle : who.slice(8)}`;
    }
    const user = state.users[who];
    return `@${user ? user.name : who}`;
  }

  function renderMessage(message, where) {
    const ephemeral = message.subtype === "ephemeral";
    const node = el("div", `message${ephemeral ? " ephemeral" : ""}`);
    node.dataset.ts = message.ts;
    const author = message.user || message.bot_id || "";
    node.append(avatar(author));
    const body = el("div", "msg-body");
    const meta = el("div", "meta");
    const user = state.users[author];
    meta.append(el("span", "author", user ? user.real_name || user.name : (message.bot_profile || {}).name || author));
    if ((user && user.is_bot) || message.bot_id || author === "USLACKBOT") meta.append(el("span", "app-badge", "APP"));
    meta.append(el("span", "time", timeOf(message.ts)));
    if (message.edited) meta.append(el("span", "edited", "(edited)"));
    const pings = message.notifies || [];  // whom Slack would notify: a ping is never silent here
    if (pings.length) meta.append(el("span", "notifies", `🔔 notifies ${pings.map(pingName).join(", ")}`));
    if (ephemeral) {
      meta.append(el("span", "only-you", "Only visible to you"));
      const dismiss = el("button", "dismiss", "Dismiss");
      dismiss.type = "button";
      dismiss.addEventListener("click", () => { state.dismissed.add(message.ts); renderTimeline(); renderThread(); });
      meta.append(dismiss);
    }
    body.append(meta);
    if (message.subtype === "thread_broadcast" && where === "channel") {
      const note = el("button", "thread-link broadcast-note", "replied to a thread: View thread");
      note.type = "button";
      note.addEventListener("click", () => openThread(message.thread_ts));
      body.append(note);
    }
    const ctx = { surface: ephemeral ? "ephemeral" : "message", channel: message.channel || state.channel, ts: message.ts };
    if (message.blocks && message.blocks.length) body.append(renderBlocks(message.blocks, ctx));
    else if (message.text) body.append(textObject({ type: "mrkdwn", text: message.text }));
    for (const attachment of message.attachments || []) body.append(renderAttachment(attachment, ctx));
    if (message.files && message.files.length) {
      const files = el("div", "files");
      message.files.forEach((f) => files.append(renderFile(f)));
      body.append(files);
    }
    if (message.reactions && message.reactions.length) {
      const reactions = el("div", "reactions");
      for (const r of message.reactions) reactions.append(el("span", "reaction", `:${r.name}: ${r.count}`));
      body.append(reactions);
    }
    if (where === "channel" && message.reply_count && message.subtype !== "thread_broadcast") {
      const link = el("button", "thread-link", `${message.reply_count} ${message.reply_count === 1 ? "reply" : "replies"}`);
      link.type = "button";
      link.addEventListener("click", () => openThread(message.ts));
      body.append(link);
    }
    node.append(body);
    return node;
  }

  function byTs(a, b) { return parseFloat(a.ts) - parseFloat(b.ts); }

  function keepScroll(container, render) {
    const atBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 40;
    const top = container.scrollTop;
    render();
    container.scrollTop = atBottom ? container.scrollHeight : top;
  }

  function renderTimeline() {
    const timeline = $("timeline");
    keepScroll(timeline, () => {
      timeline.textContent = "";
      const mine = state.ephemerals.filter((e) => e.channel === state.channel && !state.dismissed.has(e.ts));
      const items = [...state.messages, ...mine].sort(byTs);
      if (!items.length) timeline.append(el("div", "empty", "No messages yet. Type /run to start a process."));
      for (const message of items) timeline.append(renderMessage(message, "channel"));
    });
  }

  function renderThread() {
    const panel = $("thread-panel");
    if (!state.thread) { panel.hidden = true; return; }
    panel.hidden = false;
    const channel = state.channels[state.thread.channel];
    $("thread-channel").textContent = channel && channel.name ? `#${channel.name}` : "";
    const box = $("thread-messages");
    keepScroll(box, () => {
      box.textContent = "";
      const [parent, ...replies] = state.threadMessages;
      if (!parent) return;
      box.append(renderMessage(parent, "thread"));
      box.append(el("div", "reply-count", `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`));
      const mine = state.ephemerals.filter((e) => e.channel === state.thread.channel && e.thread_ts === state.thread.ts
        && !state.dismissed.has(e.ts));
      for (const message of [...replies, ...mine].sort(byTs)) box.append(renderMessage(message, "thread"));
    });
  }

  // ---- modals and Home -----------------------------------------------------------------------------

  function renderModal() {
    const layer = $("modal-layer");
    const view = state.modal;
    if (!view) { layer.hidden = true; layer.textContent = ""; layer.dataset.viewId = ""; return; }
    const sameView = layer.dataset.viewId === view.id && layer.dataset.hash === view.hash;
    const kept = layer.dataset.viewId === view.id ? formValues(layer) : {};
    if (sameView && layer.dataset.errors === JSON.stringify(view.errors || {})) return;
    layer.textContent = "";
    layer.hidden = false;
    layer.dataset.viewId = view.id;
    layer.dataset.hash = view.hash;
    layer.dataset.errors = JSON.stringify(view.errors || {});
    const modal = el("div", "modal");
    modal.setAttribute("role", "dialog");
    modal.setAttribute("aria-modal", "true");
    modal.setAttribute("aria-label", plain(view.title));
    const header = el("div", "modal-header");
    const x = el("button", "modal-x", "✕");
    x.type = "button";
    x.setAttribute("aria-label", "Close");
    x.addEventListener("click", () => closeModal(view));
    header.append(el("h2", null, plain(view.title)), x);
    const body = el("div", "modal-body");
    body.append(renderBlocks(view.blocks, { surface: "modal", viewId: view.id, errors: view.errors || {} }));
    const footer = el("div", "modal-footer");
    const close = el("button", "bk-button", plain(view.close) || "Cancel");
    close.type = "button";
    close.addEventListener("click", () => closeModal(view));
    footer.append(close);
    if (view.submit) {
      const submit = el("button", "bk-button primary modal-submit", plain(view.submit));
      submit.type = "button";
      submit.addEventListener("click", () => submitModal(view, body, submit));
      footer.append(submit);
    }
    modal.append(header, body, footer);
    layer.append(modal);
    for (const control of body.querySelectorAll(".input-control[data-block-id]")) {
      const kept_ = (kept[control.dataset.blockId] || {})[control.dataset.actionId];
      if (kept_ !== undefined) writeInput(control, kept_);
    }
    const first = body.querySelector(".has-error .input-control, .input-control");
    if (first && first.focus) first.focus();
  }

  async function submitModal(view, body, button) {
    button.disabled = true;
    try {
      const result = await post("/control/views/submit", { user: state.me, view_id: view.id, values: formValues(body) });
      report(result);
    } finally { button.disabled = false; }
    await refreshModal();
  }

  async function closeModal(view) {
    const result = await post("/control/views/close", { user: state.me, view_id: view.id });
    if (result.status >= 400 && result.status !== 503) report(result);
    await refreshModal();
  }

  async function refreshModal() {
    const me = state.me;
    const { top } = await getJSON(`/control/users/${encodeURIComponent(me)}/views`);
    if (me !== state.me) return;
    state.modal = top && top.is_open ? top : null;
    renderModal();
  }

  async function refreshHome() {
    const me = state.me;
    const { view } = await getJSON(`/control/users/${encodeURIComponent(me)}/home`);
    if (me !== state.me) return;
    state.home = view;
    renderHome();
  }

  function renderHome() {
    const home = $("home");
    home.textContent = "";
    if (!state.home) {
      home.append(el("div", "empty", state.appConnected ? "Shepherd has not published a Home tab for you yet."
        : "Shepherd is not connected, so there is no Home tab."));
      return;
    }
    home.append(renderBlocks(state.home.blocks, { surface: "home", viewId: state.home.id, errors: {} }));
  }

  // ---- navigation -----------------------------------------------------------------------------------

  function renderSidebar() {
    const list = $("channel-list");
    const dms = $("dm-list");
    list.textContent = "";
    dms.textContent = "";
    const channels = Object.values(state.channels).sort((a, b) => (a.name || a.id).localeCompare(b.name || b.id));
    for (const channel of channels) {
      const isDm = channel.is_im;
      if (isDm && channel.user !== state.me && !(channel.members || []).includes(state.me)) continue;
      const member = (channel.members || []).includes(state.me);
      const button = el("button", "nav-item", isDm ? "Shepherd (DM)" : `# ${channel.name}`);
      button.type = "button";
      button.dataset.channel = channel.id;
      if (state.surface === "channel" && state.channel === channel.id) button.classList.add("active");
      if (state.unread.has(channel.id)) button.classList.add("unread");
      if (!isDm && !member) button.classList.add("not-member");
      button.addEventListener("click", () => selectChannel(channel.id));
      const item = el("li");
      item.append(button);
      (isDm ? dms : list).append(item);
    }
    if (!dms.children.length) dms.append(el("li", "empty", "none yet"));
    $("home-link").classList.toggle("active", state.surface === "home");
    $("app-status").textContent = state.appConnected ? "app: Shepherd connected" : "app: not connected";
  }

  function closeDrawer() { $("sidebar").classList.remove("open"); $("drawer-backdrop").hidden = true; }

  function remember() {
    try { localStorage.setItem("shepherd-console", JSON.stringify({ me: state.me, channel: state.channel })); } catch (_) { /* private mode */ }
  }

  async function selectChannel(id) {
    state.surface = "channel";
    state.channel = id;
    state.unread.delete(id);
    if (state.thread && state.thread.channel !== id) closeThread();
    closeDrawer();
    remember();
    const channel = state.channels[id] || {};
    $("channel-title").textContent = channel.is_im ? "Shepherd" : `# ${channel.name || id}`;
    $("channel-purpose").textContent = (channel.topic && channel.topic.value) || (channel.purpose && channel.purpose.value) || "";
    $("composer-input").placeholder = channel.is_im ? "Message Shepherd, or / for commands" : `Message #${channel.name}, or / for commands`;
    $("timeline").hidden = false;
    $("composer").hidden = false;
    $("home").hidden = true;
    renderSidebar();
    await Promise.all([refreshChannel(), refreshEphemerals()]);
    $("timeline").scrollTop = $("timeline").scrollHeight;
  }

  async function showHome() {
    state.surface = "home";
    closeDrawer();
    $("channel-title").textContent = "Shepherd";
    $("channel-purpose").textContent = "App Home";
    $("timeline").hidden = true;
    $("composer").hidden = true;
    $("home").hidden = false;
    renderSidebar();
    const opened = await post("/control/app_home_opened", { user: state.me });
    if (opened.status >= 400 && opened.status !== 503) report(opened);
    await refreshHome();
  }

  async function openThread(ts) {
    state.thread = { channel: state.channel, ts };
    await refreshThread();
  }

  function closeThread() {
    state.thread = null;
    state.threadMessages = [];
    renderThread();
  }

  async function switchUser(id) {
    state.me = id;
    state.modal = null;
    state.dismissed.clear();
    $("user-switcher").value = id;
    remember();
    renderModal();
    renderSidebar();
    const work = [refreshEphemerals(), refreshModal()];
    if (state.surface === "home") work.push(showHome());
    await Promise.all(work);
  }

  // ---- refreshing from the sandbox ----------------------------------------------------------------------

  async function refreshChannel() {
    const channel = state.channel;
    const { messages } = await getJSON(`/control/channels/${encodeURIComponent(channel)}/messages`);
    if (channel !== state.channel) return;
    state.messages = messages.map((m) => ({ ...m, channel }));
    renderTimeline();
  }

  async function refreshThread() {
    const thread = state.thread;
    if (!thread) return renderThread();
    try {
      const { messages } = await getJSON(`/control/channels/${encodeURIComponent(thread.channel)}/threads/${encodeURIComponent(thread.ts)}`);
      if (thread !== state.thread) return;
      state.threadMessages = messages.map((m) => ({ ...m, channel: thread.channel }));
    } catch (_) {
      state.threadMessages = [];  // the parent was deleted
    }
    renderThread();
  }

  async function refreshEphemerals() {
    const me = state.me;
    const { ephemerals } = await getJSON(`/control/users/${encodeURIComponent(me)}/ephemerals`);
    if (me !== state.me) return;
    state.ephemerals = ephemerals;
    renderTimeline();
    renderThread();
  }

  async function refreshChannels() {
    const { channels } = await getJSON("/control/channels");
    state.channels = Object.fromEntries(channels.map((c) => [c.id, c]));
    renderSidebar();
  }

  async function refreshApp() {
    try {
      const { connections } = await getJSON("/control/socket");
      const settings = (await getJSON("/control/settings")).settings;
      state.appConnected = connections.length > 0 || Boolean(settings.request_url);
    } catch (_) { state.appConnected = false; }
    renderSidebar();
  }

  const pending = new Set();
  let flushing = null;

  function schedule(...what) {
    what.forEach((w) => pending.add(w));
    if (!flushing) flushing = setTimeout(flush, 25);
  }

  async function flush() {
    const jobs = [...pending];
    pending.clear();
    const run = {
      channel: refreshChannel, thread: refreshThread, ephemerals: refreshEphemerals, modal: refreshModal,
      // Always a promise: a bare null here threw on .catch and dropped the other refreshes of this flush.
      home: async () => { if (state.surface === "home") await refreshHome(); },
      channels: refreshChannels, app: refreshApp,
    };
    try {
      await Promise.all(jobs.map((j) => run[j]().catch((e) => console.warn("refresh", j, e))));
    } finally {
      flushing = null;
      if (pending.size) schedule();
    }
  }

  function onEvent(event) {
    const data = event.data || {};
    const me = state.me;
    switch (event.type) {
      case "message_posted": case "message_updated": case "message_deleted": case "file_shared":
      case "reaction_added": case "reaction_removed": {
        const channel = data.channel;
        if (channel === state.channel) schedule("channel");
        else if (channel && event.type === "message_posted") { state.unread.add(channel); renderSidebar(); }
        const m = data.message || {};
        if (state.thread && channel === state.thread.channel
          && [m.ts, m.thread_ts, data.ts, data.thread_ts].includes(state.thread.ts)) schedule("thread");
        if (event.type === "file_shared" && state.thread) schedule("thread");
        break;
      }
      case "ephemeral_posted": case "ephemeral_updated": case "ephemeral_deleted":
        if (data.user === me) schedule("ephemerals");
        break;
      case "view_opened": case "view_pushed": case "view_updated": case "view_closed": case "view_errors":
        if (data.user === me) schedule("modal");
        break;
      case "home_published":
        if (data.user === me) schedule("home");
        break;
      case "channel_created": case "member_joined": case "topic_set":
        schedule("channels");
        break;
      case "socket_connected": case "socket_disconnected":
        schedule("app");
        break;
      case "reset":
        schedule("channels", "channel", "ephemerals", "modal", "home", "thread");
        break;
      default:
    }
  }

  const EVENT_TYPES = ["message_posted", "message_updated", "message_deleted", "ephemeral_posted", "ephemeral_updated",
    "ephemeral_deleted", "reaction_added", "reaction_removed", "channel_created", "member_joined", "topic_set",
    "view_opened", "view_pushed", "view_updated", "view_closed", "view_errors", "home_published", "file_shared",
    "socket_connected", "socket_disconnected", "reset"];

  function follow() {
    const source = new EventSource("/control/events");
    const live = $("live");
    let wasDown = false;
    source.onopen = () => {
      live.textContent = "live";
      live.classList.remove("off");
      if (wasDown) schedule("channels", "channel", "ephemerals", "modal", "home", "thread", "app");
      wasDown = false;
    };
    source.onerror = () => { live.textContent = "reconnecting…"; live.classList.add("off"); wasDown = true; };
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (e) => {
        try { onEvent(JSON.parse(e.data)); } catch (err) { console.warn("bad event", err); }
      });
    }
  }

  // ---- composer --------------------------------------------------------------------------------------

  const complete = { items: [], index: -1 };

  function suggestions(value) {
    if (!value.startsWith("/") || value.includes("\n")) return [];
    const typed = value.toLowerCase().trimStart();
    const [word] = typed.split(/\s+/, 1);
    const hasSpace = /\s/.test(typed);
    return state.commands.filter((s) => {
      const full = `${s.command} ${s.text}`.trim().toLowerCase();
      if (full === typed.trim()) return false;
      return hasSpace ? full.startsWith(typed) : s.command.startsWith(word);
    }).slice(0, 10);
  }

  function renderAutocomplete() {
    const list = $("autocomplete");
    list.textContent = "";
    list.hidden = complete.items.length === 0;
    complete.items.forEach((s, i) => {
      const item = el("li");
      item.setAttribute("role", "option");
      if (i === complete.index) item.classList.add("selected");
      item.append(el("span", "usage", s.usage), el("span", "desc", s.description));
      item.addEventListener("mousedown", (e) => { e.preventDefault(); accept(s); });
      list.append(item);
    });
  }

  function accept(suggestion) {
    const input = $("composer-input");
    input.value = `${suggestion.command} ${suggestion.text}`.trim() + " ";
    input.focus();
    complete.items = [];
    complete.index = -1;
    renderAutocomplete();
  }

  async function send(text, threadTs) {
    const trimmed = text.trim();
    if (!trimmed) return;
    if (trimmed.startsWith("/")) {
      const [command] = trimmed.split(/\s+/, 1);
      const argText = trimmed.slice(command.length).trim();
      report(await post("/control/commands", { user: state.me, channel: state.channel, command, text: argText }));
      return;
    }
    const payload = { user: state.me, channel: threadTs ? state.thread.channel : state.channel, text: trimmed };
    if (threadTs) payload.thread_ts = threadTs;
    const result = await post("/control/messages", payload);
    if (result.status >= 400) report(result);
  }

  function wireComposer() {
    const input = $("composer-input");
    input.addEventListener("input", () => {
      complete.items = suggestions(input.value);
      complete.index = -1;
      renderAutocomplete();
    });
    input.addEventListener("keydown", (e) => {
      const open = complete.items.length > 0;
      if (open && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
        e.preventDefault();
        const n = complete.items.length;
        if (e.key === "ArrowDown") complete.index = (complete.index + 1) % n;
        else complete.index = complete.index <= 0 ? n - 1 : complete.index - 1;
        renderAutocomplete();
      } else if (open && e.key === "Tab") {
        e.preventDefault();
        accept(complete.items[Math.max(complete.index, 0)]);
      } else if (open && e.key === "Escape") {
        complete.items = [];
        renderAutocomplete();
      } else if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        if (open && complete.index >= 0) accept(complete.items[complete.index]);
        else $("composer").requestSubmit();
      }
    });
    input.addEventListener("blur", () => setTimeout(() => { complete.items = []; renderAutocomplete(); }, 100));
    $("composer").addEventListener("submit", async (e) => {
      e.preventDefault();
      const text = input.value;
      input.value = "";
      complete.items = [];
      renderAutocomplete();
      await send(text);
    });
    const reply = $("thread-input");
    reply.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("thread-composer").requestSubmit(); }
    });
    $("thread-composer").addEventListener("submit", async (e) => {
      e.preventDefault();
      const text = reply.value;
      reply.value = "";
      if (state.thread) await send(text, state.thread.ts);
    });
  }

  // ---- start ----------------------------------------------------------------------------------------

  async function start() {
    const seed = await getJSON("/control/seed");
    for (const user of seed.users) state.users[user.id] = user;
    for (const group of seed.usergroups) state.groups[group.id] = group;
    state.botUser = seed.app.bot_user_id;
    document.title = `${seed.team.name} · Shepherd sandbox`;
    $("workspace-name").textContent = seed.team.name;
    state.humans = seed.users.filter((u) => !u.is_bot && u.id !== "USLACKBOT" && !u.deleted);
    const switcher = $("user-switcher");
    for (const user of state.humans) {
      const title = (user.profile && user.profile.title) || "";
      switcher.append(new Option(`${user.real_name} (@${user.name})${title ? ` — ${title}` : ""}`, user.id));
    }
    state.commands = (await getJSON("/console/api/commands")).commands;
    await refreshChannels();
    let saved = {};
    try { saved = JSON.parse(localStorage.getItem("shepherd-console") || "{}"); } catch (_) { /* ignore */ }
    const query = new URLSearchParams(location.search);
    const wantUser = query.get("user") || saved.me;
    state.me = state.users[wantUser] && state.humans.includes(state.users[wantUser]) ? wantUser : state.humans[0].id;
    switcher.value = state.me;
    const wantChannel = query.get("channel") || saved.channel;
    const byName = Object.values(state.channels).find((c) => c.name === wantChannel);
    // #ops first: where the quickstart (and the banner's "Try:") has you type /run
    const first = Object.values(state.channels).find((c) => c.name === "ops")
      || Object.values(state.channels).find((c) => c.is_general) || Object.values(state.channels)[0];
    const channel = state.channels[wantChannel] ? wantChannel : byName ? byName.id : first.id;

    switcher.addEventListener("change", () => switchUser(switcher.value));
    $("home-link").addEventListener("click", showHome);
    $("thread-close").addEventListener("click", closeThread);
    $("drawer-toggle").addEventListener("click", () => { $("sidebar").classList.add("open"); $("drawer-backdrop").hidden = false; });
    $("drawer-backdrop").addEventListener("click", closeDrawer);
    wireComposer();
    follow();
    await Promise.all([selectChannel(channel), refreshModal(), refreshApp()]);
    document.body.dataset.ready = "1";
  }

  start().catch((err) => { toast(`Console failed to start: ${err.message}`); console.error(err); });
})();
