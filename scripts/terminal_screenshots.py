"""Screenshots of the command line at 80 columns: docs/screenshots/terminal-*.png.

Each command runs in a real terminal (a detached tmux window, 80 columns wide), its screen is
captured with the colours (``tmux capture-pane -e``), turned into an HTML ``<pre>`` and
photographed by Debian's Chromium (Playwright). Everything runs on 127.0.0.1.

    python3 scripts/terminal_screenshots.py [OUT_DIR]
"""

from __future__ import annotations

import html
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLUMNS = 80
SESSION = f"whyops-shots-{os.getpid()}"
DONE = "__shot_done__"
SGR = re.compile(r"\x1b\[([0-9;]*)m")
COLOURS = {
    "31": "#e06c75",
    "33": "#e5c07b",
    "34": "#61afef",
    "35": "#c678dd",
    "36": "#56b6c2",
    "37": "#dcdfe4",
}


def tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", *args], check=True, capture_output=True, text=True, timeout=30
    ).stdout


def run_in_terminal(command: str, timeout: float = 300) -> str:
    """The terminal's text (colours included) after ``command`` ran in it, prompt removed."""
    tmux("send-keys", "-t", SESSION, "clear; tmux clear-history", "Enter")
    time.sleep(0.3)
    tmux("send-keys", "-t", SESSION, f"{command}; echo {DONE}", "Enter")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-e", "-S", "-", "-t", SESSION)
        if re.search(rf"^{DONE}", SGR.sub("", screen), re.M):
            lines = screen.rstrip("\n").split("\n")
            plain = [SGR.sub("", line) for line in lines]
            first = next(i for i, line in enumerate(plain) if line.startswith("$ "))
            last = max(i for i, line in enumerate(plain) if line.startswith(DONE))
            shown = "\n".join(lines[first:last]).rstrip()
            return shown.replace(f"; echo {DONE}", "", 1)  # the prompt line as typed
        time.sleep(0.5)
    raise TimeoutError(command)


def ansi_to_html(text: str) -> str:
    """The SGR colours the commands use (bold, dim, 31-37) as spans."""
    out: list[str] = []
    open_span = False
    position = 0
    for match in SGR.finditer(text):
        out.append(html.escape(text[position : match.start()]))
        position = match.end()
        if open_span:
            out.append("</span>")
            open_span = False
        codes = [c for c in match[1].split(";") if c and c != "0"]
        if codes:
            style = []
            for code in codes:
                if code == "1":
                    style.append("font-weight:bold")
                elif code == "2":
                    style.append("opacity:0.6")
                elif code in COLOURS:
                    style.append(f"color:{COLOURS[code]}")
            out.append(f'<span style="{";".join(style)}">')
            open_span = True
    out.append(html.escape(text[position:]))
    if open_span:
        out.append("</span>")
    return "".join(out)


PAGE = """<!doctype html><meta charset="utf-8"><style>
body {{ margin: 0; background: #1e2127; }}
pre {{ display: inline-block; margin: 0; padding: 14px 18px; color: #dcdfe4;
  background: #1e2127; font: 14px/1.35 "DejaVu Sans Mono", monospace; }}
.bar {{ background: #2c313a; color: #9da5b4; font: 12px sans-serif; padding: 6px 12px; }}
</style><div class="bar">terminal · {columns} columns</div><pre>{text}</pre>"""


def photograph(shots: dict[str, str], out_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        # Wide enough for 80 columns of 14px DejaVu Sans Mono (8.4px each) and the padding.
        page = browser.new_page(viewport={"width": 740, "height": 400}, device_scale_factor=1)
        for name, text in shots.items():
            page.set_content(PAGE.format(columns=COLUMNS, text=ansi_to_html(text)))
            page.locator("body").screenshot(path=str(out_dir / f"terminal-{name}.png"))
            print(f"wrote {out_dir / f'terminal-{name}.png'}")
        browser.close()


def take(work: Path) -> dict[str, str]:
    """Runs the commands a newcomer runs, in order, each on a clean screen."""
    shots = {}
    shots["demo"] = run_in_terminal("whyops demo --once --port 0 --db demo.db")
    key = (work / "demo.key").read_text().strip()
    tmux("send-keys", "-t", SESSION, "whyops serve --port 0 --db demo.db > serve.log &", "Enter")
    deadline, log_file, log = time.monotonic() + 30, work / "serve.log", ""
    while "web page" not in log:
        assert time.monotonic() < deadline, log
        time.sleep(0.2)
        log = log_file.read_text(errors="replace") if log_file.exists() else ""
    base = re.search(r"(http://127\.0\.0\.1:\d+)", log)
    assert base, log
    env = f"export WHYOPS_BASE_URL={base[1]} WHYOPS_API_KEY={shlex.quote(key)}"
    tmux("send-keys", "-t", SESSION, env, "Enter")
    shots["traces"] = run_in_terminal("whyops traces")
    listed = SGR.sub("", shots["traces"]).splitlines()
    trace_id = listed[2].split()[1]
    shots["show"] = run_in_terminal(f"whyops show {trace_id[:7]}")
    shots["errors"] = run_in_terminal(
        "whyops show nosuch; "
        f"whyops serve --port {base[1].rsplit(':', 1)[1]}; "
        "whyops serve --db notes/x.db; "
        "python3 -c \"import sys; sys.modules['uvicorn'] = None; "
        "from whyops.cli import main; main(['serve'])\""
    )
    tmux("send-keys", "-t", SESSION, "kill %1", "Enter")
    return shots


def main() -> int:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshots"
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        bin_dir = Path(sys.executable).parent
        tmux("new-session", "-d", "-s", SESSION, "-x", str(COLUMNS), "-y", "50", "-c", folder)
        try:
            setup = (
                f"export PS1='$ ' PATH={shlex.quote(str(bin_dir))}:$PATH "
                f"PYTHONPATH={shlex.quote(str(REPO))} TERM=xterm-256color; unset NO_COLOR"
            )
            tmux("send-keys", "-t", SESSION, setup, "Enter")
            shots = take(work)
        finally:
            tmux("kill-session", "-t", SESSION)
    photograph(shots, out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
