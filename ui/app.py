"""The chat app: a module-level ``demo`` built from the plain handlers in :mod:`ui.handlers`.

    python app.py                      # http://127.0.0.1:7860, offline defaults
    edit-agent serve --port 8000

The agent tools of :mod:`edit_agent.tools` (``edit_image``, ``get_image``, ...) are the app's public API and,
when ``gradio[mcp]`` is installed, its MCP tools (:mod:`ui.agent_api`); the chat events are callable by
``gradio_client`` too but left out of the API docs, since they carry the browser's state.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from edit_agent.session import default_store_folder
from ui import backends, files, views
from ui.agent_api import serve_agent_tools
from ui.handlers import AppConfig, ChatApp, attached_paths
from ui.mcp_transport import mcp_available
from ui.samples import samples

CSS = """
.gradio-container { max-width: 1400px !important; margin: auto; }
#timeline .caption-label, #samples .caption-label { font-size: 0.72rem; max-width: 92%; }
/* A turn's caption is its instruction: up to three lines (a branch also names the turn it comes from),
   under the thumbnail rather than over it, where it hid what the turn changed ("add a circle at the
   bottom left"). The whole image shows (contain, not cover). */
#timeline .thumbnail-item { display: flex !important; flex-direction: column; aspect-ratio: auto !important;
                            height: auto !important; }
/* Every thumbnail the same box, whatever its caption's length (a square item gave a long caption's image less). */
#timeline .thumbnail-item img { flex: none; width: 100%; aspect-ratio: 5 / 4; height: auto !important;
                                object-fit: contain; }
#timeline .caption-label {
  position: static !important; transform: none !important; max-width: 100% !important; margin: 2px 0 0 0;
  white-space: normal; line-height: 1.25;
  display: -webkit-box; -webkit-box-orient: vertical; -webkit-line-clamp: 3;
  overflow: clip; overflow-clip-margin: content-box;  /* no sliver of a third line in the padding */
  min-height: 3.75em; box-sizing: content-box;  /* three lines kept for every caption, padding aside */
}
/* As tall as its turns, up to two rows; more scroll (a fixed height left a blank band under one row). The page
   script fits the height to two whole rows (FOLLOW_JS): 340 px showed a strip of the captions of a third. */
#timeline .grid-wrap { height: auto !important; min-height: 0 !important; max-height: 340px !important; }
/* Columns that fit the width: fixed column counts overflow on phones and clip the timeline. A turn is
   at least 116 px wide, so that its caption reads in two or three lines (two rows show at once). */
#timeline .grid-container { grid-template-columns: repeat(auto-fill, minmax(116px, 1fr)) !important; }
#samples .grid-container { grid-template-columns: repeat(auto-fill, minmax(84px, 1fr)) !important; }
/* A sample's name under it, not over its corner, where a world canvas has shapes too. */
#samples .thumbnail-item { display: flex !important; flex-direction: column; aspect-ratio: auto !important; height: auto !important; }
#samples .thumbnail-item img { aspect-ratio: 1 / 1; width: 100%; height: auto !important; }
#samples .caption-label {
  position: static !important; transform: none !important; max-width: 100% !important; margin: 2px 0 0 0;
  text-align: center;
}
/* Every sample in view at any width, and no blank band under them (Gradio's gallery keeps a minimum height). */
#samples .grid-wrap { height: auto !important; min-height: 0 !important; max-height: none !important; }
#status { min-height: 2.2em; }
/* A long unbroken word (an address, a path) wraps: on a phone it made the whole page scroll sideways. Gradio's
   own break-word does not let a message shrink below its longest word, and its inline-flex code never wraps. */
#chat *, #status *, #timeline .caption-label { overflow-wrap: anywhere !important; }
/* Gradio fades a hovered caption to half: a turn just clicked looked disabled (and, on a touch screen, stayed so). */
#timeline .thumbnail-item:hover .caption-label, #samples .thumbnail-item:hover .caption-label { opacity: 1 !important; }
#chat code { display: inline !important; }
/* While an event runs its progress bar takes the status line's place: the old text showed through it. */
#status .pending { visibility: hidden; }
/* On a phone the columns stack: a shorter chat keeps the current image and the samples within reach. Before the
   first turn the empty chat is shorter still and the empty image panel is not shown, so that the samples the
   chat's placeholder points to are in reach. Undo, Redo and New session share one row of large tap targets, and
   full screen is off: Gradio's full-screen image was wider than a phone, with its close button off the screen. */
@media (max-width: 640px) {
  /* at most the screen's height less a line: zoomed to 400%, 380 px was a scroll area twice the screen's */
  #chat { height: min(380px, calc(100vh - 60px)) !important; max-height: min(380px, calc(100vh - 60px)) !important; }
  #chat:has(.placeholder-content) { height: 120px !important; }
  #current-image:has(> .empty) { display: none !important; }
  #history-buttons { flex-wrap: nowrap !important; }
  #history-buttons > button { min-width: 0 !important; flex: 1 1 0 !important; }
  #current-image button[aria-label="Fullscreen"] { display: none !important; }
}
/* A laptop's screen (1366x768): the message box, the one place to attach a photo, showed 25 px under a 600 px chat.
   The chat gives up height down to 300 px so that the box under it is on the first screen. */
@media (min-width: 641px) and (min-height: 501px) {
  #chat { height: clamp(300px, calc(100vh - 260px), 600px) !important;
          max-height: clamp(300px, calc(100vh - 260px), 600px) !important; }
}
/* A phone held sideways: the chat and the message box under it fit the screen's height. */
@media (max-height: 500px) and (min-width: 641px) {
  #chat { height: max(180px, calc(100vh - 120px)) !important; max-height: max(180px, calc(100vh - 120px)) !important; }
}
/* Touch screens: tap targets of 44 px, and no state that only a mouse's hover undoes or explains. An attached
   image's remove button covered the whole thumbnail, invisible until hovered, so a tap to look at the image
   removed it: it is a visible corner badge instead. */
@media (pointer: coarse) {
  #history-buttons > button, #download-session, #delete-session, #open-zip, .label-wrap { min-height: 44px; }
  /* the taller header stretched the closed arrow's box, which turned on its centre dropped below the label */
  .label-wrap { align-items: center; }
  #message .thumbnails { padding: 8px 8px 0 0; }
  #message .thumbnail-item { overflow: visible !important; }
  #message .delete-button {
    opacity: 1 !important; inset: -8px -8px auto auto !important; width: 26px !important; height: 26px !important;
    border-radius: 50% !important;
  }
  #message .delete-button svg { width: 14px !important; height: 14px !important; }
  #current-image .icon-button-wrapper button, #chat .top-panel button, #chat .image-container .icon-button-wrapper button,
  #message button.upload-button, #message button.submit-button { min-width: 44px !important; min-height: 44px !important; }
  #chat .thought-group > .title { min-height: 44px; }
  #current-image img { padding-top: 3.1rem; }  /* below the larger buttons */
  /* A gap under the chat's trash (a new session): an image scrolled up to the chat's top edge has its full-screen
     button there, and a tap on its hidden part hit the trash right above it. */
  #chat > .wrapper > .icon-button-wrapper.top-panel { margin-bottom: 14px !important; }
}
/* A hovered turn is no second current turn: Gradio draws both with the same indigo border. */
#timeline .thumbnail-item:hover:not(.selected) { border-color: #c7d2fe !important; --ring-color: #c7d2fe; }
/* The timeline's heading goes with it: before the first turn there is no timeline on the page. */
#timeline-heading:not(:has(~ #timeline)) { display: none; }
/* While a turn runs the timeline waits with the other history controls (see _history_controls). */
#timeline.busy .thumbnail-item { pointer-events: none; opacity: 0.6; }
/* ... and so does the chat's trash icon (a new session): hidden, so that neither a click nor the keyboard reaches it. */
#chat.busy button[aria-label="Clear"] { visibility: hidden; }
/* The chat's own buttons (clear, copy) in a row of their own above the messages: floating over them, they
   covered the end of the message scrolled under them. */
#chat { display: flex !important; flex-direction: column; }
#chat > .wrapper { display: flex; flex-direction: column; flex: 1 1 auto; min-height: 0; }
#chat > .wrapper > .icon-button-wrapper.top-panel { position: static !important; align-self: flex-end; margin: 2px 4px; }
#chat > .wrapper > .bubble-wrap { flex: 1 1 auto; min-height: 0; }
/* The current image fills its panel, a small one too: shown at its own size, a 12x9 image was a dot. It starts
   below the panel's label and buttons, which covered a square image's top corners. */
#current-image img { object-fit: contain !important; padding-top: 2.6rem; box-sizing: border-box; }
/* No per-message actions: a chat image's Download would save the thumbnail (the Current image panel downloads the
   full edit), Share works only on Hugging Face Spaces, and copy all is above the chat. Their row, empty or not,
   also drew a small oval under each message. */
#chat .message-buttons { display: none !important; }
/* Nor a chat image's Fullscreen: it showed the small thumbnail stretched (the Current image panel's shows the edit). */
#chat .image-container > .icon-button-wrapper { display: none !important; }
/* A refusal is told by its toast; the badge would only cover the status line. */
#status .error { display: none; }
/* Why a backend cannot run here is the only place a user learns it: body colour, not a pale hint.
   Its options are struck through, so that they do not read as choices. */
#reasoner-unavailable .info-text, #editor-unavailable .info-text { color: var(--body-text-color); font-size: 0.8rem; }
#reasoner-unavailable label.disabled span, #editor-unavailable label.disabled span {
  text-decoration: line-through; color: #64748b;
}
/* Gradio's footer is pale on a pale page; slate-600 reads (about 7:1). */
footer, footer a, footer button { color: #475569 !important; }
/* Its separator before the hidden "Stop Recording" button is the footer's last character otherwise. */
footer .record.hidden + .divider { display: none; }
/* The one button that loses work: red text (about 6:1 on white), so it does not read like its neighbours. */
#delete-session { color: #b91c1c; border-color: #fca5a5; }
/* Keyboard and screen: the message box shows that it has the focus (Gradio draws no ring on it); its remove
   button shows when the keyboard reaches it (Gradio shows it on hover only); the placeholder and the image
   panel's label reach 4.8:1 and 8:1 (slate-400 and indigo-500 gave 2.6:1 and 3.6:1). */
#message:focus-within { outline: 2px solid #6366f1; outline-offset: -2px; }  /* inside: the column clips outside */
#message .delete-button:focus-visible { opacity: 1 !important; outline: 2px solid #6366f1; }
#message textarea::placeholder { color: #64748b; opacity: 1; }
#status .status-item { white-space: nowrap; }
/* Gradio's labels over a block are indigo-500 on indigo-100, 3.6:1: indigo-700 reads at 8:1. */
[data-testid="block-label"], [data-testid="block-info"] { color: #3730a3; }
/* The reasoning reads lighter than the messages without fading to 4.5:1 (Gradio's opacity 0.8): slate-600, 7:1. */
#chat .thought-group .message-content, #chat .thought-group .message-content .md { opacity: 1 !important; }
#chat .thought-group .message-content .prose :is(p, li) { color: #475569 !important; }
/* Dark mode (Gradio's .dark): the colours above were chosen on white, and on dark fills they fell to 1.2-3:1.
   One selector a rule: Gradio scopes a rule to the page by taking out its first ".dark" only. */
.dark [data-testid="block-label"] { color: #fff; }
.dark [data-testid="block-info"] { color: #fff; }
.dark #delete-session { color: #fecaca; border-color: #f87171; }
.dark #delete-session:hover { color: #fff; }
.dark #reasoner-unavailable label.disabled span { color: #cbd5e1; }
.dark #editor-unavailable label.disabled span { color: #cbd5e1; }
.dark #message textarea::placeholder { color: #94a3b8; }
.dark footer { color: #94a3b8 !important; }
.dark footer a { color: #94a3b8 !important; }
.dark footer button { color: #94a3b8 !important; }
.dark #chat .thought-group .message-content .prose :is(p, li) { color: #94a3b8 !important; }
.dark #session-export a.download-link { color: #a5b4fc; }
/* Gradio fills a disabled button as a hovered one, indigo in dark mode: a disabled Undo looked the most active. */
.dark button.secondary[disabled] { background: var(--button-secondary-background-fill) !important; }
.dark button.stop[disabled] { background: var(--button-secondary-background-fill) !important; }
/* A long session label ends in an ellipsis before the dropdown's arrow, not under it. */
#sessions input { text-overflow: ellipsis; padding-right: 1.75rem; }
"""

HEAD = r"""<style>
/* On a wide screen toasts sit at the bottom: at the top a refusal covered the Current image and its buttons.
   On a phone a toast is as wide as the screen: it goes to the end of the screen the message box, which holds the
   text to fix, is not at (editAgentPlaceToasts). Here, not in CSS: Gradio scopes that to the page's content,
   and the toasts are outside it. */
.toast-wrap { top: auto !important; bottom: var(--size-4, 16px) !important; }
@media (max-width: 640px) {
  .toast-wrap.edit-agent-toasts-top { top: var(--size-4, 16px) !important; bottom: auto !important; }
}
/* A long refusal on a short screen (a page zoomed to 400%) scrolls within the screen rather than past its end
   (only there: the scroll box clips the toasts' shadow). */
@media (max-height: 640px) { .toast-wrap { max-height: calc(100vh - 24px); overflow-y: auto; } }
/* A finger closes a refusal: the close button's 28 px grow to 44. */
@media (pointer: coarse) { [data-testid="toast-close"] { min-width: 44px; min-height: 44px; } }
/* The first Tab stop: past the chat's many stops straight to the message box; shown only while focused. */
.skip-to-box { position: fixed; left: 8px; top: -48px; z-index: 1000; padding: 8px 12px; background: #312e81;
  color: #fff; border-radius: 6px; }
.skip-to-box:focus { top: 8px; }
</style>
<script>
// The message box's text at the moment Enter is pressed: the page builds what it sends a moment later, and a key
// pressed in between (a fast typist's next word) would be part of it. See AS_ENTER_SAW_IT_JS.
document.addEventListener("keydown", (event) => {
  const box = event.target;
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing && box instanceof HTMLTextAreaElement
      && box.closest("#message")) {
    window.editAgentTextAtEnter = { text: box.value, at: performance.now() };
  }
}, true);
// What Gradio's components leave unsaid to a screen reader or a keyboard, said again after every redraw.
// A turn and a sample are named by their caption, not "Thumbnail 2 of 3", and the current turn is marked.
const editAgentNameGalleryItems = () => {
  for (const item of document.querySelectorAll("#timeline .thumbnail-item, #samples .thumbnail-item")) {
    const caption = item.querySelector(".caption-label")?.innerText.replace(/^●/, "").trim();  // aria-current says it
    if (caption && item.getAttribute("aria-label") !== caption) item.setAttribute("aria-label", caption);
    const current = item.classList.contains("selected");  // an empty aria-current would mean false
    if (current && item.getAttribute("aria-current") !== "true") item.setAttribute("aria-current", "true");
    if (!current && item.hasAttribute("aria-current")) item.removeAttribute("aria-current");
  }
};
// Gradio drops a chat image's alt text (views.py sends one): each image says what it is again.
const editAgentNameChatImages = () => {
  document.querySelectorAll("#chat .message-row").forEach((row, index) => {
    const edit = row.querySelector(".message strong")?.innerText.match(/Edit #(\d+)/);
    const alt = row.classList.contains("bot-row") ? (edit ? `The image after edit #${edit[1]}` : "An edited image")
      : index === 0 ? "The image the session started from" : "The attached image";
    row.querySelectorAll("img").forEach((image) => { if (image.alt !== alt) image.alt = alt; });
  });
};
// The buttons around images, which do nothing, and the arrow inside each Reasoning toggle are no Tab stops of
// their own; a toggle says whether it is open.
const editAgentQuietDeadTabStops = () => {
  document.querySelectorAll("#chat .image-container > button, #current-image .image-container > button, "
      + "#chat .thought-group .arrow button").forEach((button) => {
    if (button.tabIndex !== -1) button.tabIndex = -1;
  });
  document.querySelectorAll("#chat .thought-group > .title").forEach((title) => {
    const open = String(title.classList.contains("expanded"));
    if (title.getAttribute("aria-expanded") !== open) title.setAttribute("aria-expanded", open);
  });
};
// The status line announces where the session is (an undo only removes chat messages, which nobody hears): the
// line itself, not the block around it, whose progress tracker would be read out tenth by tenth of a second. The
// message box has a name; while a turn runs the timeline is inert, since its busy class stops only the mouse.
const editAgentAccessibility = () => {
  editAgentNameGalleryItems();
  editAgentNameChatImages();
  editAgentQuietDeadTabStops();
  const status = document.querySelector('#status [data-testid="markdown"]');
  if (status && status.getAttribute("role") !== "status") status.setAttribute("role", "status");
  const box = document.querySelector("#message textarea");
  if (box && !box.hasAttribute("aria-label")) box.setAttribute("aria-label", "Message: an instruction, and an image to start");
  const timeline = document.querySelector("#timeline");
  if (timeline && timeline.inert !== timeline.classList.contains("busy")) timeline.inert = !timeline.inert;
  editAgentSharpWhenEnlarged();
};
// An image shown larger than it is (an 8x8 canvas in the Current image panel) keeps its pixels sharp instead of
// the browser's blur; a photo shown smaller is smoothed as usual.
const editAgentSharpWhenEnlarged = () => {
  const image = document.querySelector("#current-image img");
  if (!image || !image.naturalWidth) return;
  const scale = Math.min(image.clientWidth / image.naturalWidth, image.clientHeight / image.naturalHeight);
  const rendering = scale >= 2 ? "pixelated" : "";
  if (image.style.imageRendering !== rendering) image.style.imageRendering = rendering;
};
document.addEventListener("load", (event) => {  // an image's size is known once it has loaded; load does not bubble
  if (event.target instanceof HTMLImageElement && event.target.closest("#current-image")) editAgentSharpWhenEnlarged();
}, true);
// Gradio heads a refusal "Error" in red, however ordinary the mistake ("rotate it 45 degrees"), and a notice such as
// an attachment taken out "Warning"; it ignores the titles given. Each heading says what happened instead.
const editAgentNameToasts = () => {
  for (const [kind, given, said] of [["error", "Error", "Not done "], ["warning", "Warning", "Note "]]) {
    document.querySelectorAll(`.toast-title.${kind}`).forEach((title) => {
      for (const node of title.childNodes) {
        if (node.nodeType === Node.TEXT_NODE && node.nodeValue.trim() === given) node.nodeValue = said;
      }
    });
  }
};
// On a phone: toasts at the top while the message box is in the screen's lower half, else at the bottom.
const editAgentPlaceToasts = () => {
  const toasts = document.querySelector(".toast-wrap");
  const box = document.querySelector("#message");
  if (!toasts || !box) return;
  const shown = box.getBoundingClientRect();
  const low = (shown.top + shown.bottom) / 2 > innerHeight / 2;
  if (toasts.classList.contains("edit-agent-toasts-top") !== low) toasts.classList.toggle("edit-agent-toasts-top");
};
addEventListener("scroll", editAgentPlaceToasts, { passive: true });
const editAgentAddSkipLink = () => {
  if (document.querySelector(".skip-to-box")) return;
  const skip = document.createElement("a");
  skip.href = "#message";
  skip.className = "skip-to-box";
  skip.textContent = "Skip to the message box";
  skip.addEventListener("click", (event) => {
    event.preventDefault();
    document.querySelector("#message textarea")?.focus();
  });
  document.body.prepend(skip);
};
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", editAgentAddSkipLink);
else editAgentAddSkipLink();
// Escape closes the refusals on the screen (their close buttons are the page's last Tab stops), unless it is
// closing something else: an open list, or full screen. Space opens a Reasoning toggle, as Enter does.
document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (event.key === "Escape" && !document.fullscreenElement && !target.closest?.('[role="combobox"], [role="listbox"], .wrap-inner')) {
    document.querySelectorAll('[data-testid="toast-close"]').forEach((button) => button.click());
  }
  if (event.key === " " && target.matches?.("#chat .thought-group > .title")) {
    event.preventDefault();
    target.click();
  }
}, true);  // capturing, so that no component that stops the key's propagation keeps it from here
// Gradio's "Copy conversation" copied each message's Markdown: the backslashes and entities that show an instruction as
// typed (views.as_typed), and the app's own ** and _. It copies the text the chat shows: a click on the button marks
// the clipboard write that Gradio makes next, which then takes the chat's messages (KEEP_CHAT_JS) as shown, in
// Gradio's own form ("role: text", an image by its address).
const editAgentShownText = (markdown) => markdown.replace(
  /(`+) ?([\s\S]*?) ?\1(?!`)|\\([\s\S])|&(lt|gt|amp);|[*_]/g,  // a code span, an escape, an entity, emphasis
  (match, fence, code, escaped, entity) => fence ? code : escaped ?? ({lt: "<", gt: ">", amp: "&"}[entity] || ""));
const editAgentConversation = () => window.editAgentChat.flatMap((message) =>
  (Array.isArray(message.content) ? message.content : [message.content]).map((part) =>
    `${message.role}: ${part?.type === "text" ? editAgentShownText(part.text) : part?.file?.url ?? ""}`)).join("\n\n");
let editAgentCopyingConversation = false;
document.addEventListener("click", (event) => {
  if (!event.target.closest?.('#chat button[aria-label$=" conversation"]')) return;  // "Copy", then "Copied"
  editAgentCopyingConversation = true;
  setTimeout(() => { editAgentCopyingConversation = false; });  // Gradio writes within the click, or not at all
}, true);
if (navigator.clipboard) {
  const editAgentWriteText = navigator.clipboard.writeText.bind(navigator.clipboard);
  navigator.clipboard.writeText = (text) => {
    const conversation = editAgentCopyingConversation && Array.isArray(window.editAgentChat);
    editAgentCopyingConversation = false;
    return editAgentWriteText(conversation ? editAgentConversation() : text);
  };
}
let editAgentPending = false;
new MutationObserver(() => {
  if (editAgentPending) return;
  editAgentPending = true;
  requestAnimationFrame(() => {
    editAgentPending = false;
    editAgentAccessibility();
    editAgentPlaceToasts();
    editAgentNameToasts();
  });
}).observe(document.documentElement, { subtree: true, childList: true, attributes: true, attributeFilter: ["class"] });
</script>"""

# System fonts only: the default theme fonts come from Google, and the app must work offline.
THEME = gr.themes.Soft(
    primary_hue="indigo", neutral_hue="slate",
    font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
)

INTRO = (
    "# edit-agent\n"
    "Edit one image over many turns. Each turn keeps the earlier edits and rules in force; "
    "**Reasoning** under a turn says how its instruction was read. Pick a turn in the timeline to "
    "continue from it (a branch)."
)


def build_demo(config: AppConfig | None = None) -> gr.Blocks:
    """The app for ``config`` (default: :meth:`AppConfig.from_env`)."""
    config = config or AppConfig.from_env()
    app = ChatApp(config)
    # Gradio's file cache (uploads, rendered images) is swept hourly of files older than a day.
    with gr.Blocks(title="edit-agent", delete_cache=(3600, 24 * 3600)) as demo:
        # A fixed key and secret, so the browser's session survives a server restart.
        state = gr.BrowserState(
            {"token": None, "session_id": None}, storage_key="edit-agent", secret=_browser_secret(config)
        )
        # The backends picked in the settings, kept in the browser so that a reload keeps them too.
        picked = gr.BrowserState({"reasoner": None, "editor": None}, storage_key="edit-agent-settings")
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                # No label: its badge would sit over the first message in view.
                chat = gr.Chatbot(
                    label="Chat", show_label=False, height=600, layout="bubble", feedback_options=None, buttons=["copy_all"],
                    latex_delimiters=[],  # "$$" in an instruction is text, not a formula (see views.as_typed)
                    placeholder="Upload a photo or pick a sample, then say what to change.",
                    elem_id="chat",
                )
                message = gr.MultimodalTextbox(
                    placeholder="Attach an image to start, or type the next edit…", file_types=["image"],
                    sources=["upload"], show_label=False, elem_id="message",
                    max_lines=8,  # a long paste scrolls inside the box: it pushed Undo and Redo off the screen
                )
                with gr.Row(elem_id="history-buttons"):
                    undo = gr.Button("↶ Undo", size="sm", elem_id="undo")
                    redo = gr.Button("↷ Redo", size="sm", elem_id="redo")
                    new = gr.Button("New session", size="sm", elem_id="new-session")
            with gr.Column(scale=2):
                image = gr.Image(
                    label="Current image", type="filepath", format="png", interactive=False, height=340,
                    buttons=["download", "fullscreen"], elem_id="current-image",
                    alt_text="The current image: the session's latest edit, or the one picked in the timeline",
                )
                status = gr.Markdown(elem_id="status")
                # A heading, not the gallery's own label: that label floats over the first row.
                gr.Markdown("**Timeline** · pick a turn to continue from it", elem_id="timeline-heading")
                # No gallery buttons: "download all" would zip the thumbnails, not the edits (the session
                # zip under "My sessions" holds those), and the button covers the first row's last turn.
                timeline = gr.Gallery(
                    show_label=False, columns=3, allow_preview=False, object_fit="contain",
                    buttons=[], elem_id="timeline", visible=False,
                )
                with gr.Accordion("Samples", open=True):
                    sample_gallery = gr.Gallery(
                        value=[(files.sample_file(s.name, s.load), s.name) for s in samples()],
                        # The height follows the samples (see CSS): a fixed one hid a row on phones.
                        show_label=False, columns=4, allow_preview=False, object_fit="cover",
                        buttons=[], elem_id="samples",
                    )
                with gr.Accordion("My sessions", open=False):
                    sessions = gr.Dropdown(label="Reopen a session", choices=[], elem_id="sessions")
                    export = gr.Button("Download session (zip)", size="sm", elem_id="download-session")
                    # A download opens again here as a new session (and a CLI or SDK export zip too).
                    reopen_zip = gr.UploadButton(
                        "Open a downloaded session (zip)", file_types=[".zip"], file_count="single",
                        type="filepath", size="sm", elem_id="open-zip",
                    )
                    delete = gr.Button("Delete this session", size="sm", variant="stop", elem_id="delete-session")
                    export_file = gr.File(
                        label="Session export", interactive=False, visible=False, elem_id="session-export")
                with gr.Accordion("Settings (new sessions)", open=False):
                    reasoner, reasoners_unavailable, editor, editors_unavailable = _settings_panel(config)
        # Hidden inputs for the API form of a timeline click.
        turn_id = gr.Textbox(visible=False)
        checkout = gr.Button(visible=False)

        # The head this tab shows, kept on the server (a State is read when its event runs, not when it is
        # clicked): Undo and Redo tell this tab's own quick clicks from a move another tab made meanwhile.
        tab_head = gr.State(None)
        # Undo, Redo, Download and Delete last: the view enables each only where a click on it would act.
        view = [state, chat, image, timeline, status, sessions, export_file, tab_head, undo, redo, export, delete]
        # Progress and errors show on the status line only: on every output they blank the whole page.
        internal: dict[str, Any] = {"api_visibility": "undocumented", "show_progress_on": [status]}
        restored = demo.load(app.restore, [state], view, api_name="restore", **internal)
        chat.change(None, [chat], None, js=KEEP_CHAT_JS, queue=False, api_visibility="private")
        _follow(restored)
        demo.load(
            _settings(config), [reasoner, editor, picked], [reasoner, reasoners_unavailable, editor, editors_unavailable],
            api_name="settings", **internal,
        )
        for picker in (reasoner, editor):
            picker.input(_remember_picks, [reasoner, editor], [picked], queue=False, api_visibility="private")
            # queued: a notice reaches the page only from a queued event
            picker.input(app.settings_picked, [state, reasoner, editor], None, show_progress="hidden",
                         api_visibility="private")
        # The box is locked while a turn runs, so nothing typed meanwhile is lost; it unlocks
        # whether the turn worked or not (a refused message stays in the box to be fixed). A turn
        # that worked empties it, unless a sample was picked meanwhile: that pick stays.
        # The controls that move the head or switch the session wait too: a move made meanwhile
        # would be drawn over by the turn's own view when it lands, and the page would show a
        # different current image than the one the next turn continues from.
        # The turn runs what the box held when Enter was pressed, kept by the server in ``sent_message``: read
        # from the box again, it took the letters typed before the lock reached the browser ("... an").
        sent = gr.State(None)
        sent_message = gr.MultimodalTextbox(visible=False, file_types=["image"])
        history_controls = [undo, redo, new, delete, sessions, timeline, chat, reopen_zip, export]
        # A reload while a turn ran: its reply went to the page that was; this one looks each second until it lands,
        # with the box and the history controls locked meanwhile, as they were on the page that sent it (a message
        # sent now would branch from the image before that turn).
        waiting, landed = gr.Timer(1.0, active=False), gr.State(False)
        pending_outputs = [waiting, message, *history_controls]
        # after the view is drawn, which enables Undo and Redo where they would act
        restored.then(_pending(app), [state], pending_outputs, api_visibility="private", show_progress="hidden")
        caught_up = waiting.tick(_caught_up(app), [state], [*view, waiting, landed], api_visibility="private",
                                 show_progress="hidden")
        _follow(caught_up)
        caught_up.then(_unlock_when_landed, [landed], [message, *history_controls], queue=False,
                       api_visibility="private")
        # Gradio shows toasts of one kind as one group that closes on its first toast's timer: a refusal of
        # this message joined the last one's toast and vanished with it. Sending closes what was shown before.
        message.submit(None, None, None, js=CLOSE_TOASTS_JS, queue=False, api_visibility="private")
        turn = message.submit(
            _box_locked(app), [message, chat, state], [message, sent, sent_message, state, *history_controls], queue=False,
            api_visibility="private", js=AS_ENTER_SAW_IT_JS,
        ).then(
            app.edit, [sent_message, state, reasoner, editor], view, api_name="edit",
            concurrency_id="gpu", concurrency_limit=config.gpu_concurrency, **internal,
        )
        finished = turn.success(_finish_box, [message, sent], [message, *history_controls], queue=False,
                                api_visibility="private")
        _follow(finished)
        # A refused turn takes its echoed message out of the chat again: the view is drawn from the store.
        refused = turn.failure(_unlock_box, None, [message, *history_controls], queue=False, api_visibility="private")
        refused.then(app.restore, [state], view, api_visibility="private").then(
            app.status_after_refusal, [message, state], [status], api_visibility="private", show_progress="hidden")
        # Locking the box took the keyboard's focus away from it: the next message typed went nowhere.
        for unlocked in (finished, refused):
            unlocked.then(None, None, None, js=FOCUS_BOX_JS, queue=False, api_visibility="private")
        # "multiple": every click counts (by default a click while the last one runs is dropped, so a quick
        # double click went back one turn or two, by chance). Each moves the head one step from where it is.
        # In order, one at a time: replies that ran side by side could land out of order and leave the page
        # showing a head the session had already left.
        history = {"trigger_mode": "multiple", "concurrency_id": "history", "concurrency_limit": 1}
        # A refusal stays until the next message, or a move that leaves the state it was about.
        for moved in (undo.click, redo.click, new.click, timeline.select, sessions.input):
            moved(None, None, None, js=CLOSE_TOASTS_JS, queue=False, api_visibility="private")
        for moved in (undo.click(app.undo, [state, tab_head], view, api_name="undo", **history, **internal),
                      redo.click(app.redo, [state, tab_head], view, api_name="redo", **history, **internal)):
            _follow(moved)
            moved.then(None, None, None, js=FOCUS_BOX_IF_LOST_JS, queue=False, api_visibility="private")
        # A new session starts from no sample: the one highlighted last would say otherwise. Without a progress
        # spinner: it blanked the samples meanwhile, and a sample tapped just then was lost.
        # Queued: a notice (gr.Info) reaches the page only from a queued event; from one that is not, it was dropped.
        # Its progress is put on a hidden box, not on the status line it writes: Gradio keeps one progress setting
        # per component, the last event's, so one that ended while a turn ran took the turn's progress bar with it.
        attached = gr.Textbox(visible=False)
        told: dict[str, Any] = {"show_progress": "hidden", "show_progress_on": [attached]}
        # The page forgets the session at once, before the server is asked: a message sent before the reply landed
        # went to the session the page had before, which the state in the browser still named. The trash icon's
        # notice is told which session the page left (see ChatApp.clear_chat).
        left_session = gr.Textbox(visible=False)
        forget = {"js": FORGET_SESSION_JS, "queue": False, "api_visibility": "private"}
        for starts_anew in (new.click(None, [state], [state, left_session], **forget)
                            .then(app.new_session, [state], view, api_name="new_session", **internal),
                            chat.clear(None, [state], [state, left_session], **forget)  # the trash icon
                            .then(app.clear_chat, [state, left_session], view, api_name=False, **internal)):
            starts_anew.then(_no_sample_picked, None, [sample_gallery], queue=False, show_progress="hidden",
                             api_visibility="private")
            # an image still in the box is what the new session starts from: the status line says so, not "attach one"
            starts_anew.then(app.attached_status, [message, state], [status], **told, api_visibility="private")
        selected = timeline.select(app.select_turn, [state], view, api_name="select_turn", **internal)
        _follow(selected)
        selected.then(None, None, None, js=TOUCH_TO_THE_MESSAGE_BOX_JS, queue=False, api_visibility="private")
        checkout.click(app.checkout, [state, turn_id], view, api_name="checkout", **internal)
        reopened = sessions.input(app.open_session, [state, sessions], view, api_name="open_session", **internal)
        _follow(reopened)
        # The focus was lost with the list; on a touch screen the box is left alone, or its keyboard would pop up.
        reopened.then(None, None, None, js=KEYBOARD_FOCUS_BOX_JS, queue=False, api_visibility="private")
        reopened.then(None, None, None, js=TO_THE_CURRENT_IMAGE_JS, queue=False, api_visibility="private")
        # An image attached before the session was opened now starts another one when sent: said now, as on attaching.
        reopened.then(app.attached_status, [message, state], [status], **told, api_visibility="private")
        # The browser asks first; a cancelled question sends confirmed=False, which changes nothing.
        confirmed = gr.Checkbox(visible=False)
        delete.click(app.delete_session, [state, confirmed], view, api_name="delete_session", js=CONFIRM_DELETE_JS,
                     **internal).then(None, None, None, js=FOCUS_BOX_IF_LOST_JS, queue=False, api_visibility="private")
        export.click(app.export, [state], [export_file], api_name="export", **internal).success(
            _show_export, None, [export_file], queue=False, api_visibility="private").then(
            None, None, None, js=SAVE_EXPORT_JS, queue=False, api_visibility="private")
        # One at a time: an import unpacks and checks every image of the session. What was said about the page
        # before ("no session to download yet") is closed: it is about the page the import replaces.
        reopen_zip.upload(None, None, None, js=CLOSE_TOASTS_JS, queue=False, api_visibility="private")
        imported = reopen_zip.upload(app.import_zip, [state, reopen_zip], view, api_name="import_zip",
                                     concurrency_id="import", concurrency_limit=1, **internal)
        _follow(imported)
        imported.then(None, None, None, js=TO_THE_CURRENT_IMAGE_JS, queue=False, api_visibility="private")
        imported.then(app.attached_status, [message, state], [status], **told, api_visibility="private")
        # The pick also says which file the box holds (``attached``): Gradio's box tells a change of its text only, and
        # the sample put in it by the server went unnoticed, so that once it was taken out again, nothing had changed
        # (the status line still said it was attached). The change checks it and tells the status line, as an upload.
        picked_sample = sample_gallery.select(_pick_sample, None, [message, attached], api_name="pick_sample", **internal)
        picked_sample.then(None, None, None, js=TO_THE_MESSAGE_BOX_JS, queue=False, api_visibility="private")
        # On attaching, not on sending: an image that cannot be used is taken out, one too large is announced
        # as scaled down when sent. The browser notes which files the box holds and the server is asked only
        # when they change: a call per keystroke would fill the queue that edits wait in.
        message.change(None, [message], [attached], js=ATTACHED_FILES_JS, queue=False, api_visibility="private")
        attached.change(_no_sample_unless_attached, [message], [sample_gallery], queue=False, show_progress="hidden",
                        api_visibility="private")
        refused_files = gr.Textbox(visible=False)
        checked = attached.change(app.check_attachment, [message, state], [refused_files, status],
                                  api_name="check_attachment", concurrency_id="attachments", concurrency_limit=2,
                                  **told, api_visibility="undocumented")
        # Taken out by the page, from the box as it is now: what was typed while the check ran stays.
        checked.then(None, [refused_files, message], [message], js=TAKE_OUT_REFUSED_JS, queue=False,
                     api_visibility="private")
        # The attach button leaves the page once a file is in the box, and the keyboard's focus with it.
        checked.then(None, None, None, js=FOCUS_BOX_JS, queue=False, api_visibility="private")
        serve_agent_tools(config)
    demo.queue(max_size=config.queue_size, default_concurrency_limit=8)
    return demo


def _no_monitoring_summary(request: Request) -> JSONResponse:
    return JSONResponse({"functions": {}})


NO_MONITORING_SUMMARY = Route("/monitoring/summary", _no_monitoring_summary)
"""Gradio's API panel asks for each endpoint's timings whether or not monitoring is on; with it off, Gradio answered
403, which the browser logged as an error. Here it gets no timings, as the panel itself takes any failure (a route
given to the app when it is made comes before Gradio's own)."""


def launch_options(config: AppConfig, *, host: str = "127.0.0.1", port: int | None = None) -> dict[str, Any]:
    """Production settings for ``demo.launch``."""
    return {
        "server_name": host,
        "server_port": port,
        "max_file_size": config.max_upload,
        "allowed_paths": [],  # the store is served only through copies in Gradio's cache
        "run_history": False,  # runs hold users' images; keep none in the browser
        "mcp_server": mcp_available(),
        "footer_links": ["api"],
        "enable_monitoring": False,
        "app_kwargs": {"routes": [NO_MONITORING_SUMMARY]},
        "show_error": False,
        "theme": THEME,
        "css": CSS,
        "head": HEAD,
    }


def serve(demo: gr.Blocks, config: AppConfig, *, host: str = "127.0.0.1", port: int | None = None) -> None:
    """Launch with the production settings and block; backend checks run once the server is up,
    so that importing model libraries does not delay the first page."""
    demo.launch(prevent_thread_lock=True, **launch_options(config, host=host, port=port))
    backends.check_in_background()
    _wait_until_stopped(demo)


def _wait_until_stopped(demo: gr.Blocks) -> None:
    """Block until the server closes. Not ``demo.block_thread()``: it takes Ctrl-C for an ordinary end, so a server
    stopped by its user would exit 0, and the Ctrl-C is raised on here to be reported as what stopped it."""
    try:
        while demo.is_running:
            time.sleep(0.1)
    except KeyboardInterrupt:
        demo.close(verbose=False)
        raise


def _settings_panel(config: AppConfig) -> list[gr.Radio]:
    """Pickers for new sessions plus a disabled list of what cannot run here; narrowed on page load.

    They start with every registered name, so any of them passes Gradio's input check and an
    unavailable one gets its reason from the handler rather than a bare validation error.
    """
    components = []
    for kind, configured in (("reasoner", config.reasoner), ("editor", config.editor)):
        names = [name for name in backends.registry(kind) if name not in backends.TEST_ONLY or name == configured]
        components.append(gr.Radio(backends.labelled(kind, names), value=configured, label=kind.capitalize(),
                                   elem_id=f"{kind}-picker"))
        components.append(gr.Radio([], label=f"Unavailable {kind}s here", interactive=False, visible=False,
                                   elem_id=f"{kind}-unavailable"))
    return components


def _remember_picks(reasoner: str, editor: str) -> dict[str, str]:
    return {"reasoner": reasoner, "editor": editor}


def _settings(config: AppConfig) -> Any:
    def settings(reasoner: str, editor: str, picked: Any = None) -> tuple[Any, ...]:
        """The backends this machine can run (the slow checks ran in the background at start-up), with the
        ones this browser picked before, while they can still run here."""
        picked = picked if isinstance(picked, dict) else {}
        updates: list[Any] = []
        for kind, current, configured in (("reasoner", reasoner, config.reasoner), ("editor", editor, config.editor)):
            current = picked.get(kind) if isinstance(picked.get(kind), str) else current
            options = config.options(kind, configured)
            available, unavailable = backends.choices(kind, configured, loaded=bool(options))
            updates.append(gr.Radio(choices=backends.labelled(kind, available, {configured: options.get("model")}),
                                    value=current if current in available else configured))
            updates.append(gr.Radio(
                choices=list(unavailable), visible=bool(unavailable),
                info="; ".join(f"{name}: {reason}" for name, reason in unavailable.items()),
            ))
        return tuple(updates)

    return settings


CLOSE_TOASTS_JS = """
() => { document.querySelectorAll('[data-testid="toast-close"]').forEach((button) => button.click()); }
"""

AS_ENTER_SAW_IT_JS = """
(message, chat, state) => {
  // What the box held when Enter was pressed (see HEAD), when the box has only had letters added since. Only an
  // Enter of this very send counts: not one long ago that sent nothing (a click on the send button follows).
  const enter = window.editAgentTextAtEnter;
  window.editAgentTextAtEnter = undefined;
  const text = message && typeof message.text === "string" ? message.text : null;
  if (enter && performance.now() - enter.at < 1000 && enter.text.trim() && text !== null && text !== enter.text
      && text.startsWith(enter.text)) {
    message = { ...message, text: enter.text };
  }
  return [message, chat, state];
}
"""

FOCUS_BOX_JS = """
() => {
  // Back to the box, unless the user has since put the focus somewhere else on purpose.
  // Asked again when the focus moves: the user may have tabbed elsewhere in between.
  const free = () => {
    const active = document.activeElement;
    // a button that has just been disabled (Undo at the source) holds no focus a user chose
    return !active || active === document.body || active.disabled || Boolean(active.closest('#message'));
  };
  const box = document.querySelector('#message textarea');
  if (box && free()) {
    setTimeout(() => { if (free()) box.focus({ preventScroll: true }); }, 0);
  }
}
"""

KEYBOARD_FOCUS_BOX_JS = f"""
() => {{ if (!matchMedia('(pointer: coarse)').matches) ({FOCUS_BOX_JS.strip()})(); }}
"""

# On a phone the timeline is a screen or more under the message box: a turn tapped to continue from it (a branch)
# left the box, where the next instruction goes, out of sight. Not focused: its keyboard would cover the image.
TOUCH_TO_THE_MESSAGE_BOX_JS = """
() => {
  if (!matchMedia('(pointer: coarse)').matches) return;
  setTimeout(() => document.querySelector('#message')?.scrollIntoView({block: 'nearest'}), 150);
}
"""

# After Undo, Redo or Delete: where the button pressed is now disabled (nothing more to undo), a keyboard's focus
# would be left on nothing; it goes to the box. Once the page has drawn the button's new state.
FOCUS_BOX_IF_LOST_JS = f"""
() => {{ setTimeout({KEYBOARD_FOCUS_BOX_JS.strip()}, 100); }}
"""

# What ChatApp.new_session does to the state, done in the browser (the token is kept); and the session left.
FORGET_SESSION_JS = """
(state) => [{...(state || {}), session_id: null, starting: null, shown_head: null}, (state && state.session_id) || ""]
"""

# The chat's messages, kept in the page for its "Copy conversation" (see HEAD).
KEEP_CHAT_JS = """
(chat) => { window.editAgentChat = chat; }
"""

CONFIRM_DELETE_JS = """
(state, confirmed) => [state, Boolean(state && state.session_id) && window.confirm(
  "Delete this session and the images only it uses? This cannot be undone (Download session keeps a copy).")]
"""

# A session opened from My sessions or from a zip: on a phone its image and status line are a screen or more above
# the list ("nearest": on a wide screen, where they are in view already, nothing moves). After the view has drawn.
TO_THE_CURRENT_IMAGE_JS = """
() => { setTimeout(() => document.querySelector('#current-image')?.scrollIntoView({block: 'nearest'}), 400); }
"""

FOLLOW_JS = """
() => {
  // Gradio follows the chat only while it is near its end, and the list keeps growing while its
  // images load: once it settles, show the newest turn and scroll the current thumbnail into view.
  const fitTimeline = () => {
    const current = document.querySelector('#timeline .thumbnail-item.selected');
    const strip = current && current.closest('.grid-wrap');
    if (!strip) return;
    // Two whole rows of turns, the current one's row at the bottom: the rows above it show whole.
    const grid = strip.querySelector('.grid-container');
    const [above, below] = [strip, grid].map((box) => getComputedStyle(box))
      .reduce(([top, bottom], style) => [top + (parseFloat(style.paddingTop) || 0),
                                         bottom + (parseFloat(style.paddingBottom) || 0)], [0, 0]);
    const row = current.getBoundingClientRect().height;
    const tops = [...new Set([...grid.children].map((item) => item.getBoundingClientRect().top))].sort((a, b) => a - b);
    const pitch = tops.length > 1 ? tops[1] - tops[0] : row;  // a row and the gap under it
    strip.style.setProperty('max-height', `${Math.floor(above + pitch + row + below)}px`, 'important');
    // rounded up: a row above may then sit a fraction of a pixel into the padding, never a line into view
    strip.scrollTop += Math.ceil(current.getBoundingClientRect().bottom + below - strip.getBoundingClientRect().bottom);
  };
  const follow = () => {
    const chat = document.querySelector('#chat .bubble-wrap');
    if (chat) chat.scrollTop = chat.scrollHeight;
    fitTimeline();
  };
  [300, 900, 1800].forEach((delay) => setTimeout(follow, delay));
  // Columns and rows change with the window's width: the strip is fitted again once a resize settles (the
  // chat is left where its reader scrolled it).
  if (!window.editAgentFitsTimelineOnResize) {
    window.editAgentFitsTimelineOnResize = true;
    let settling;
    window.addEventListener('resize', () => { clearTimeout(settling); settling = setTimeout(fitTimeline, 250); });
  }
}
"""


# The paths of the files in the message box, as one text: it changes only when a file is attached or removed.
ATTACHED_FILES_JS = """
(message) => JSON.stringify(((message && message.files) || []).map((file) => (file && file.path) || file))
"""

# The box as it is now, without the images the server refused (a JSON list of their paths); unchanged, when none is.
TAKE_OUT_REFUSED_JS = """
(refused, message) => {
  const paths = JSON.parse(refused || "[]");
  const files = (message && message.files) || [];
  const kept = files.filter((file) => !paths.includes((file && file.path) || file));
  return kept.length === files.length ? message : {...message, files: kept};
}
"""

# A sample picked goes into the message box: the words go there next. On a phone the box is a screen or more
# above the samples, so it is brought into view ("nearest": where it is in view already, nothing moves).
TO_THE_MESSAGE_BOX_JS = """
() => {
  // The whole box, with the sample's thumbnail in it, once that has rendered: the text area alone left it above.
  setTimeout(() => {
    document.querySelector('#message')?.scrollIntoView({block: 'nearest'});
    document.querySelector('#message textarea')?.focus({preventScroll: true});
  }, 150);
}
"""

# One click on "Download session" saves the zip: the file card's own link is clicked once it shows the new
# export (the card stays, to save it again). Links already saved are skipped, so a redraw saves nothing twice.
SAVE_EXPORT_JS = """
() => {
  window.editAgentSaved = window.editAgentSaved || new Set();
  const save = (triesLeft) => {
    const link = document.querySelector('#session-export a[download]');
    if (link && !window.editAgentSaved.has(link.href)) {
      window.editAgentSaved.add(link.href);
      link.click();
    } else if (triesLeft > 0) {
      setTimeout(() => save(triesLeft - 1), 100);
    }
  };
  save(50);
}
"""


def _follow(event: Any) -> None:
    """After ``event`` has redrawn the view, bring the newest turn and the current thumbnail into sight."""
    event.then(None, None, None, js=FOLLOW_JS, queue=False, api_visibility="private")


def _show_export() -> Any:
    return gr.File(visible=True)


def _box_locked(app: ChatApp) -> Callable[[Any, Any, Any], tuple[Any, ...]]:
    """:func:`_lock_box`, telling ``app`` of a first turn sent, before it waits in the queue (see
    ``ChatApp.first_turn_sent``)."""
    def lock_box(message: Any, chat: Any, state: Any) -> tuple[Any, ...]:
        locked = _lock_box(message, chat, state)
        if locked[3]["starting"] is not None:
            app.first_turn_sent(locked[3]["starting"])
        return locked
    return lock_box


def _lock_box(message: Any, chat: Any, state: Any) -> tuple[Any, ...]:
    """Lock the box and the history controls for the turn, remember what the box sent, and show it in the
    chat at once (a turn can take seconds; the view drawn after it replaces this one). A message with an
    image starts a session: its id is chosen now and kept in the browser, so that a reload during the
    first turn can find the session (see ``ChatApp.restore``)."""
    state = dict(state) if isinstance(state, dict) else {}
    state["starting"] = uuid.uuid4().hex if _box_contents(message)[1] else None
    return (gr.MultimodalTextbox(interactive=False), _box_contents(message), message, state,
            *_history_controls(locked=True, chat=_echoed(chat, message)))


def _echoed(chat: Any, message: Any) -> list[dict[str, Any]]:
    """``chat`` with the message just sent at its end (a message with an image starts a new chat)."""
    text, paths = _box_contents(message)
    shown = [] if paths else [entry for entry in (chat or []) if isinstance(entry, dict)]
    shown += [{"role": "user", "content": {"path": path, "alt_text": "The attached image"}} for path in paths]
    if text.strip():
        shown.append({"role": "user", "content": views.as_typed(text.strip())})
    return shown


def _finish_box(message: Any, sent: Any) -> tuple[Any, ...]:
    """After a turn that worked: take what was sent out of the box, keeping what was typed after it (before the
    lock reached the browser), and unlock everything. A sample picked meanwhile stays."""
    text, paths = _box_contents(message)
    sent_text, sent_paths = sent if isinstance(sent, (tuple, list)) else ("", ())
    if paths == tuple(sent_paths) and text.startswith(sent_text):
        typed_after = text[len(sent_text):].lstrip()
        box = {"text": typed_after, "files": []} if typed_after else None
        return gr.MultimodalTextbox(value=box, interactive=True), *_history_controls(locked=False)
    return _unlock_box()


def _history_controls(*, locked: bool, chat: list[dict[str, Any]] | None = None) -> tuple[Any, ...]:
    """Undo, redo, new session, delete it, reopen a session, the timeline, the chat's trash icon (these two have
    no interactive switch: the ``busy`` class stops them), opening a download and downloading the session
    (mid-turn it would zip the session as it was); ``chat``: new messages for the chat."""
    # Unlocked, Undo, Redo, Delete and Download are left as the view set them (where a click would act): the turn's
    # own view has set them by then, and a refused turn's view is drawn again after it (``refused.then``).
    by_view = gr.Button(interactive=False) if locked else gr.skip()
    busy = ["busy"] if locked else []
    chat_update = gr.Chatbot(elem_classes=busy) if chat is None else gr.Chatbot(value=chat, elem_classes=busy)
    return (by_view, by_view, gr.Button(interactive=not locked), by_view, gr.Dropdown(interactive=not locked),
            gr.Gallery(elem_classes=busy), chat_update, gr.UploadButton(interactive=not locked), by_view)


def _pending(app: ChatApp) -> Callable[[Any], tuple[Any, ...]]:
    """Page load: the timer that watches for a turn this page sent before it was reloaded, and the box and history
    controls locked while it runs (left as they are when none does)."""
    def pending(state: Any) -> tuple[Any, ...]:
        timer = app.turn_pending(state)
        if not timer.active:
            return (timer, gr.skip(), *(gr.skip() for _ in _history_controls(locked=True)))
        return (timer, gr.MultimodalTextbox(interactive=False), *_history_controls(locked=True))
    return pending


def _caught_up(app: ChatApp) -> Callable[[Any], tuple[Any, ...]]:
    """A tick of that timer: the view once the turn has landed, and whether it has."""
    def caught_up(state: Any) -> tuple[Any, ...]:
        *view, timer = app.catch_up(state)
        return (*view, timer, not timer.active)
    return caught_up


def _unlock_when_landed(landed: Any) -> tuple[Any, ...]:
    if landed is not True:
        return (gr.skip(), *(gr.skip() for _ in _history_controls(locked=False)))
    return _unlock_box()


def _box_contents(message: Any) -> tuple[str, tuple[str, ...]]:
    """The box's text and file paths: enough to tell the message sent from a sample picked since."""
    if not isinstance(message, dict):
        return str(message or ""), ()
    return str(message.get("text") or ""), tuple(attached_paths(message))


def _unlock_box() -> tuple[Any, ...]:
    return gr.MultimodalTextbox(interactive=True), *_history_controls(locked=False)


def _no_sample_picked() -> Any:
    return gr.Gallery(selected_index=None)


def _no_sample_unless_attached(message: Any) -> Any:
    """No sample highlighted once the box holds no image: one taken out of the box stayed highlighted, as if it were
    still to be sent."""
    return gr.skip() if _box_contents(message)[1] else _no_sample_picked()


def _pick_sample(event: gr.SelectData) -> tuple[dict[str, Any], str]:
    """Put the clicked sample into the message box (sending a message then starts a session), and its path in the
    list of the box's files (as ATTACHED_FILES_JS writes it)."""
    path = event.value["image"]["path"] if isinstance(event.value, dict) else event.value
    return {"text": "", "files": [path]}, json.dumps([path])


def _browser_secret(config: AppConfig) -> str:
    """The key that encrypts the browser state, kept in the store folder (created once, mode 600)."""
    folder = Path(config.store or default_store_folder()).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ui-secret"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def __getattr__(name: str) -> Any:
    # ``ui.app.demo`` (what ``gradio ui/app.py`` looks for) is built on first use, not at import: building
    # the page opens the store, and ``edit-agent serve --store X`` builds its own with X.
    if name == "demo":
        globals()["demo"] = built = build_demo()
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
