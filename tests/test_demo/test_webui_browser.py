"""The web chat (demo/webui.py) driven in a real headless browser: Debian's chromium through
Playwright (``executable_path=/usr/bin/chromium``; no browser is downloaded). ``make install``
installs both (tools/misc/install_webui.sh).

The server runs the tiny random VisionLLM v2 with the toy decoders of tests/data. The test uploads
bad files (a text file named .jpg, a truncated JPEG: a message, the app keeps serving), a real
photograph, sends an empty prompt (a message), a detection request (the [DET] emission is forced:
random weights) and a question, waits for both replies, checks the reply text, the decoder shown
and the drawn output image, asks about a typed region box, uploads a 1x1 image and asks about it,
and saves screenshots after the detection reply and after both (``WEBUI_SCREENSHOT=path`` keeps
them; otherwise under pytest's tmp_path).
Marked slow: 70 s on the 2 shared cores (`make test-all` runs it).
"""
import os
import os.path as osp
import socket

import numpy as np
import pytest
import torch
from chat_helpers import force_tokens, toy_config
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

CHROMIUM = '/usr/bin/chromium'
PHOTO = osp.join(
    osp.dirname(__import__('matplotlib').__file__), 'mpl-data', 'sample_data', 'grace_hopper.jpg')
TIMEOUT_MS = 90_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    try:
        import gradio  # noqa: F401
        import playwright  # noqa: F401
    except ImportError as error:
        pytest.fail(f'{error}: run `make install` (tools/misc/install_webui.sh)')
    if not osp.isfile(CHROMIUM):
        pytest.fail(f'{CHROMIUM} missing: run `make install` (apt-get install chromium)')
    import webui

    from mmvisionllm.apis import VisionLLMInferencer
    torch.manual_seed(0)
    inferencer = VisionLLMInferencer(toy_config(str(tmp_path_factory.mktemp('tok'))))
    app = webui.build_app(inferencer, note='tiny random model (test)')
    port = _free_port()
    app.launch(server_name='127.0.0.1', server_port=port, prevent_thread_lock=True, quiet=True)
    yield inferencer, f'http://127.0.0.1:{port}/'
    app.close()


# the model's messages in Gradio's chatbot (rows of role "bot"/"assistant")
BOT_ROWS = ("[...document.querySelectorAll('#chatbot .message-row')]"
            ".filter(e => !e.className.includes('user-row'))")


def _wait_bot(page, count: int) -> str:
    """Wait for the ``count``-th reply of the model and return its text."""
    page.wait_for_function(f'n => {BOT_ROWS}.length >= n', arg=count, timeout=TIMEOUT_MS)
    page.wait_for_function(  # the round trip is over when the message box is cleared
        '() => document.querySelector("#message textarea").value === ""',
        timeout=TIMEOUT_MS)
    return page.evaluate(f'n => {BOT_ROWS}[n - 1].innerText', count)


def _send(page, text: str) -> None:
    page.fill('#message textarea', text)
    page.click('#send')


def _upload(page, path: str, expected: str) -> None:
    page.set_input_files('#upload input[type=file]', path)
    page.wait_for_function(
        't => document.querySelector("#status").innerText.includes(t)',
        arg=expected,
        timeout=TIMEOUT_MS)


@pytest.mark.slow  # 70 s on 2 shared cores
def test_web_chat_in_headless_chromium(server, tmp_path):
    from playwright.sync_api import sync_playwright
    inferencer, url = server
    text_file = tmp_path / 'notes.jpg'
    text_file.write_text('not an image\n')
    truncated = tmp_path / 'cut.jpg'
    truncated.write_bytes(open(PHOTO, 'rb').read()[:3000])
    one_pixel = tmp_path / 'dot.png'
    Image.fromarray(np.full((1, 1, 3), 200, np.uint8)).save(one_pixel)
    screenshot = os.environ.get('WEBUI_SCREENSHOT') or str(tmp_path / 'webui.png')

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=['--no-sandbox'])
        page = browser.new_page(viewport={'width': 1280, 'height': 1500})
        page.goto(url, wait_until='domcontentloaded')
        page.wait_for_selector('#send', timeout=TIMEOUT_MS)

        _upload(page, str(text_file), 'is not an image file')
        _upload(page, str(truncated), 'cannot be decoded')
        _upload(page, PHOTO, 'Loaded grace_hopper.jpg (512x600)')

        _send(page, '   ')
        assert 'empty prompt' in _wait_bot(page, 1)

        handle = force_tokens(inferencer.model, ['circle', '[DET]', ',', 'square', '[DET]', '</s>'])
        try:
            _send(page, 'detect all objects .')
            detection = _wait_bot(page, 2)
        finally:
            handle.remove()
        assert detection.strip() == 'circle [DET], square [DET]'
        decoder = page.inner_text('#decoder')
        assert 'Decoder chosen: det' in decoder and '[DET]' in decoder, decoder
        drawn = page.locator('#drawing img')
        drawn.wait_for(timeout=TIMEOUT_MS)
        assert drawn.get_attribute('src')
        box = drawn.bounding_box()
        assert box['width'] > 300 and box['height'] > 300, box
        page.screenshot(path=screenshot.replace('.png', '_detection.png'), full_page=True)

        _send(page, 'what colour is the circle ?')
        answer = _wait_bot(page, 3)
        assert answer.strip() and 'empty answer' not in answer
        assert 'Decoder chosen: none' in page.inner_text('#decoder')
        page.screenshot(path=screenshot, full_page=True)

        page.fill('#box input, #box textarea', '900 900 950 950')  # outside the 512x600 photo
        _send(page, 'what is this ?')
        assert 'covers no pixel' in _wait_bot(page, 4)
        page.fill('#box input, #box textarea', '100 100 300 300')
        _send(page, 'what is this ?')
        assert _wait_bot(page, 5).strip()

        _upload(page, str(one_pixel), 'Loaded dot.png (1x1)')
        _send(page, 'what is in the image ?')
        assert _wait_bot(page, 1).strip()  # a new image starts a new conversation
        browser.close()
    assert osp.getsize(screenshot) > 10_000
