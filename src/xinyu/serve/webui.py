"""The web page: a Gradio chat in Chinese, mounted under the API server at ``/ui`` or on its own.

What a visitor sees: the notice that this is an AI assistant and not a doctor or counselor, the chat
with streamed replies, a crisis banner with hotlines when the safety layer flags a turn, 👍/👎 on each
reply (with an optional comment) stored as feedback, "重新生成" (regenerate) and "新对话" (new
session), and the generation settings in an accordion. Conversations are stored like API sessions
(redacted, optionally encrypted). When the screen corrects a streamed reply, the bubble is replaced.
"""

from __future__ import annotations

import html
import logging
import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from xinyu.serve.persona import AI_NOTICE

if TYPE_CHECKING:
    from fastapi import FastAPI

    from xinyu.serve.conversation import Counselor, ReplyStream, Session
    from xinyu.serve.store import Store

log = logging.getLogger(__name__)

# The page must work without internet: no usage analytics, no remote fonts.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

CSS = """
#xinyu-notice {border-left: 4px solid #f59e0b; background: #fffbeb; padding: 8px 12px; border-radius: 6px;}
#xinyu-banner {border: 2px solid #dc2626; background: #fef2f2; color: #7f1d1d; padding: 10px 14px;
               border-radius: 8px; font-weight: 600;}
"""


def banner_html(banner: str, resources: list[dict[str, str]]) -> str:
    """The crisis banner: the policy's text and its hotlines, HTML-escaped."""
    items = "".join(
        f"<li>{html.escape(r.get('name', ''))}：<b>{html.escape(r.get('number', ''))}</b>"
        f"{'（' + html.escape(r['note']) + '）' if r.get('note') else ''}</li>"
        for r in resources
    )
    listing = f"<ul>{items}</ul>" if items else ""
    return f'<div role="alert" data-xinyu="crisis-banner">⚠️ {html.escape(banner)}{listing}</div>'


class _Sessions:
    """The page's live sessions by id (the raw history stays in memory; the store keeps a redacted copy)."""

    def __init__(self, counselor: Counselor, store: Store) -> None:
        self.counselor, self.store = counselor, store
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, session_id: str | None) -> Session:
        from xinyu.serve.conversation import Session

        with self._lock:
            if session_id and session_id in self._sessions:
                return self._sessions[session_id]
            session = Session(store=self.store, meta={"client": "webui"})
            self._sessions[session.id] = session
            return session

    def drop(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)


def build_ui(counselor: Counselor, store: Store) -> Any:
    """Build the Gradio Blocks page for ``counselor``, storing sessions and feedback in ``store``."""
    import gradio as gr

    from xinyu.serve.backends import PRESETS

    sessions = _Sessions(counselor, store)
    defaults = counselor.params
    theme = gr.themes.Default(font=["Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", "sans-serif"],
                              font_mono=["Noto Sans Mono CJK SC", "monospace"])

    with gr.Blocks(title="心语 · AI心理支持助手") as page:
        gr.Markdown("## 心语 · AI心理支持助手")
        gr.Markdown(AI_NOTICE, elem_id="xinyu-notice")
        banner = gr.HTML("", visible=False, elem_id="xinyu-banner")
        chat = gr.Chatbot(
            label="对话", height=460, elem_id="xinyu-chat", feedback_options=("Like", "Dislike"),
            placeholder="说说你现在的感受吧，我在这里听。",
        )
        with gr.Row():
            box = gr.Textbox(placeholder="输入你想说的话，按回车发送", show_label=False, scale=8, elem_id="xinyu-input",
                             autofocus=True)
            send = gr.Button("发送", variant="primary", scale=1, elem_id="xinyu-send")
        with gr.Row():
            regen = gr.Button("重新生成", elem_id="xinyu-regenerate", size="sm")
            new = gr.Button("新对话", elem_id="xinyu-new", size="sm")
        with gr.Row():
            comment = gr.Textbox(placeholder="对刚才评价的回复补充意见（可选）", show_label=False, scale=8,
                                 elem_id="xinyu-comment")
            send_comment = gr.Button("提交意见", scale=1, size="sm", elem_id="xinyu-send-comment")
        status = gr.Markdown("", elem_id="xinyu-status")
        with gr.Accordion("生成设置", open=False):
            preset = gr.Dropdown(list(PRESETS), value=None, label="预设", elem_id="xinyu-preset")
            temperature = gr.Slider(0.0, 1.5, value=defaults.temperature, step=0.05, label="temperature")
            top_p = gr.Slider(0.05, 1.0, value=defaults.top_p, step=0.05, label="top_p")
            max_new = gr.Slider(16, 1024, value=defaults.max_new_tokens, step=16, label="最大生成长度 (tokens)")
            rep = gr.Slider(1.0, 1.5, value=defaults.repetition_penalty, step=0.01, label="repetition_penalty")
        session_id = gr.State(None)
        ids = gr.State([])  # message ids aligned with the chat's messages
        last_feedback = gr.State(None)

        def params(t: float, p: float, m: float, r: float) -> Any:
            return defaults.replace(temperature=float(t), top_p=float(p), max_new_tokens=int(m),
                                    repetition_penalty=float(r))

        def run(stream: ReplyStream, history: list[dict[str, Any]], sid: str, msg_ids: list[str],
                banner_update: Any) -> Iterator[tuple[Any, ...]]:
            history = [*history, {"role": "assistant", "content": ""}]
            for piece in stream:
                history[-1] = {"role": "assistant", "content": history[-1]["content"] + piece}
                yield history, sid, msg_ids, banner_update, ""
            reply = stream.reply
            assert reply is not None
            # The screen may have corrected what was streamed: show the final text.
            history[-1] = {"role": "assistant", "content": reply.text}
            msg_ids = [*msg_ids, reply.user_message_id, reply.message_id]
            note = "本次对话已结束。点击“新对话”重新开始。" if reply.ended else ""
            yield history, sid, msg_ids, banner_update, note

        def respond(text: str, history: list[dict[str, Any]], sid: str | None, msg_ids: list[str],
                    t: float, p: float, m: float, r: float) -> Iterator[tuple[Any, ...]]:
            text = (text or "").strip()
            if not text:
                yield history, sid, msg_ids, gr.update(), ""
                return
            session = sessions.get(sid)
            if session.ended:
                yield history, session.id, msg_ids, gr.update(), "本次对话已结束。点击“新对话”重新开始。"
                return
            stream = counselor.stream(text, session, params(t, p, m, r))
            shown = gr.update(value=banner_html(stream.banner, list(stream.decision.resources)), visible=True) \
                if stream.banner else gr.update()
            history = [*(history or []), {"role": "user", "content": text}]
            yield from run(stream, history, session.id, msg_ids, shown)

        def regenerate(history: list[dict[str, Any]], sid: str | None, msg_ids: list[str],
                       t: float, p: float, m: float, r: float) -> Iterator[tuple[Any, ...]]:
            session = sessions.get(sid)
            if len(history or []) < 2 or session.ended or not session.history:
                yield history, session.id, msg_ids, gr.update(), "没有可以重新生成的回复。"
                return
            stream = counselor.regenerate(session, params(t, p, m, r))
            shown = gr.update(value=banner_html(stream.banner, list(stream.decision.resources)), visible=True) \
                if stream.banner else gr.update()
            yield from run(stream, history[:-1], session.id, msg_ids[:-2], shown)

        def rate(sid: str | None, msg_ids: list[str], data: gr.LikeData) -> tuple[Any, str]:
            index = data.index if isinstance(data.index, int) else data.index[0]
            if index >= len(msg_ids) or data.liked not in (True, False):
                return None, ""
            feedback_id = store.add_feedback(msg_ids[index], 1 if data.liked else -1)
            log.info("feedback %d on session %s", feedback_id, sid)
            return feedback_id, "谢谢你的反馈！可以在下方补充意见。"

        # Gradio passes LikeData by looking at the annotation's class; with postponed annotations it
        # would see a string, so set the real class.
        rate.__annotations__["data"] = gr.LikeData

        def add_comment(feedback_id: int | None, text: str) -> tuple[str, str]:
            if feedback_id is None:
                return text, "请先点击某条回复下的 👍 或 👎。"
            if not (text or "").strip():
                return text, "意见为空。"
            store.update_feedback_comment(feedback_id, text.strip())
            return "", "意见已保存，谢谢！"

        def new_session(sid: str | None) -> tuple[Any, ...]:
            sessions.drop(sid)
            return [], None, [], gr.update(value="", visible=False), "", None

        settings = [temperature, top_p, max_new, rep]
        outputs = [chat, session_id, ids, banner, status]
        for trigger in (box.submit, send.click):
            trigger(respond, [box, chat, session_id, ids, *settings], outputs).then(lambda: "", None, box)
        regen.click(regenerate, [chat, session_id, ids, *settings], outputs)
        chat.like(rate, [session_id, ids], [last_feedback, status])
        send_comment.click(add_comment, [last_feedback, comment], [comment, status])
        new.click(new_session, [session_id], [chat, session_id, ids, banner, status, last_feedback])
        chat.clear(new_session, [session_id], [chat, session_id, ids, banner, status, last_feedback])

        def apply_preset(name: str | None) -> tuple[Any, ...]:
            if not name:
                return gr.update(), gr.update(), gr.update(), gr.update()
            chosen = PRESETS[name]
            return chosen.temperature, chosen.top_p, chosen.max_new_tokens, chosen.repetition_penalty

        preset.change(apply_preset, [preset], settings)
    page._xinyu_theme = theme  # handed to mount_gradio_app, which takes theme and css in Gradio 6
    return page


def mount_ui(app: FastAPI, counselor: Counselor, store: Store, path: str = "/ui") -> FastAPI:
    """Mount the web page on a FastAPI app at ``path``."""
    import gradio as gr

    page = build_ui(counselor, store)
    return gr.mount_gradio_app(app, page, path=path, ssr_mode=False, theme=page._xinyu_theme, css=CSS,
                               footer_links=[])


def create_ui_app(counselor: Counselor, store: Store) -> FastAPI:
    """A server with only the web page, at ``/`` (``xinyu webui``)."""
    from fastapi import FastAPI

    app = FastAPI(title="xinyu web")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return mount_ui(app, counselor, store, path="/")
