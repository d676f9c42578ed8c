"""The web page in headless Chromium (Debian's, never a downloaded one), driven by Playwright."""

import threading
import time

import pytest

from tests.support.browser import ARGS, ARTIFACTS, CHROMIUM


@pytest.fixture(scope="module")
def ui_server(tiny_backend, tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed at /usr/bin/chromium")
    pytest.importorskip("playwright")
    import socket

    import uvicorn

    from xinyu.serve.api import create_app
    from xinyu.serve.backends import GenerationParams
    from xinyu.serve.conversation import Counselor
    from xinyu.serve.settings import ServeSettings
    from xinyu.serve.store import Store

    store = Store(f"sqlite:///{tmp_path_factory.mktemp('ui') / 'ui.db'}", key="")
    counselor = Counselor(tiny_backend, params=GenerationParams(temperature=0.0, max_new_tokens=24), store=store)
    app = create_app(counselor, ServeSettings(rate_limit_per_minute=0), store)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/ui/", store
    server.should_exit = True
    thread.join(timeout=10)


def _until(predicate, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def test_chat_banner_and_feedback_in_a_browser(ui_server):
    from playwright.sync_api import expect, sync_playwright

    url, store = ui_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 1000})
        page.goto(url, wait_until="load")
        page.wait_for_selector("#xinyu-input textarea", timeout=30_000)
        expect(page.locator("#xinyu-notice")).to_contain_text("不是医生或心理咨询师")
        expect(page.locator("#xinyu-banner")).to_be_hidden()

        # An ordinary message: the reply streams into a bubble and is stored.
        page.locator("#xinyu-input textarea").fill("你好，我最近总是睡不好")
        page.locator("#xinyu-send").click()
        sessions = _until(store.list_sessions)
        assert len(sessions) == 1 and sessions[0].meta == {"client": "webui"}
        stored = _until(lambda: (m := store.messages(sessions[0].id)) and len(m) == 2 and m)
        assert [m.role for m in stored] == ["user", "assistant"]
        reply_start = stored[1].content.strip()[:8]
        expect(page.locator("#xinyu-chat")).to_contain_text(reply_start, timeout=20_000)
        expect(page.locator("#xinyu-chat")).to_contain_text("你好，我最近总是睡不好")
        expect(page.locator("#xinyu-banner")).to_be_hidden()

        # A crisis message: the banner with hotlines appears.
        page.locator("#xinyu-input textarea").fill("我不想活了，今晚就打算吃药结束这一切")
        page.locator("#xinyu-send").click()
        expect(page.locator("#xinyu-banner")).to_be_visible(timeout=60_000)
        expect(page.locator("#xinyu-banner [data-xinyu='crisis-banner']")).to_contain_text("12356")
        stored = _until(lambda: (m := store.messages(sessions[0].id)) and len(m) == 4 and m)
        assert stored[2].risk["level"] == "crisis"
        page.wait_for_function(
            "() => document.querySelectorAll('#xinyu-chat button[aria-label=\"Dislike\"]').length >= 2", timeout=30_000
        )

        # Feedback: 👎 on the first reply, with a comment; both land in the store.
        page.locator("#xinyu-chat button[aria-label='Dislike']").first.click()
        feedback = _until(store.feedback, timeout=20)
        assert [(f.message_id, f.rating) for f in feedback] == [(stored[1].id, -1)]
        page.locator("#xinyu-comment textarea").fill("回答太笼统了，电话13812345678")
        page.locator("#xinyu-send-comment").click()
        expect(page.locator("#xinyu-status")).to_contain_text("意见已保存", timeout=20_000)
        assert store.feedback()[0].comment == "回答太笼统了，电话[电话]"

        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "webui.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"web page screenshot: {shot}")

        # A new session clears the page and the banner.
        page.locator("#xinyu-new").click()
        expect(page.locator("#xinyu-banner")).to_be_hidden(timeout=20_000)
        browser.close()
