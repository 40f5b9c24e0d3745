"""Headless Chromium (Debian's `chromium`) driven from the command line: the page's DOM
after its scripts ran, and screenshots. Each call gets a new, empty profile folder."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

# The flags the environment notes give for this machine: no sandbox (root in a container),
# no GPU, and nothing that reaches the network on its own.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]
# Virtual time lets every script (plotly's drawing included) finish before the dump, without
# waiting in real time.
BUDGET_MS = 30_000
TIMEOUT_S = 300


def find() -> str | None:
    """The Chromium binary: $CHROMIUM, else `chromium` or `chromium-browser` on PATH."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or \
        shutil.which("chromium-browser")


def _run(binary: str, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = work / f"profile-{len(list(work.glob('profile-*')))}"
    profile.mkdir(parents=True)
    return subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}",
                           f"--virtual-time-budget={BUDGET_MS}", *args],
                          capture_output=True, text=True, timeout=TIMEOUT_S, check=True)


def dump_dom(binary: str, page: Path, work: Path) -> str:
    """The DOM of `page` once its scripts have run."""
    return _run(binary, work, "--dump-dom", page.as_uri()).stdout


def screenshot(binary: str, page: Path, target: Path, work: Path, size: tuple[int, int]
               ) -> None:
    """A PNG of the top `size` (width, height) of `page`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _run(binary, work, f"--window-size={size[0]},{size[1]}", f"--screenshot={target}",
         page.as_uri())


class Figures(HTMLParser):
    """Collects every `figure.plot` of a DOM: its attributes and what is drawn inside it
    (Plotly's `svg.main-svg` elements, `img` elements)."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict[str, Any]] = []
        self.body: dict[str, str | None] = {}
        self.sections: dict[str, str | None] = {}
        self._depth = 0  # open elements inside the current figure

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if tag == "section" and a.get("data-section"):
            self.sections[a["data-section"] or ""] = a.get("data-status")
        if tag == "figure" and "plot" in (a.get("class") or "").split():
            self.figures.append({**a, "svgs": 0, "imgs": 0})
            self._depth = 1
            return
        if self._depth:
            if tag not in _VOID:
                self._depth += 1
            current = self.figures[-1]
            if tag == "svg" and "main-svg" in (a.get("class") or ""):
                current["svgs"] += 1
            if tag == "img":
                current["imgs"] += 1

    def handle_endtag(self, tag: str) -> None:
        if self._depth and tag not in _VOID:
            self._depth -= 1


_VOID = {"img", "br", "hr", "input", "meta", "link", "source", "area", "base", "col",
         "embed", "param", "track", "wbr"}


def parse(dom: str) -> Figures:
    """The figures, body attributes and section statuses of a DOM."""
    parser = Figures()
    parser.feed(dom)
    return parser
