"""Render a report (headings, paragraphs, tables, figures, sample blocks) as Markdown and as one HTML file.

The HTML is self-contained: images are embedded as base64 ``data:`` URIs and the only style is an
inline ``<style>`` block whose font stack starts with CJK-capable fonts, so Chinese text displays
without downloading anything.
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Heading:
    """A section title."""

    text: str
    level: int = 2


@dataclass
class Paragraph:
    """Plain text (no markup)."""

    text: str


@dataclass
class Table:
    """A table with a header row; cells are plain text."""

    header: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class Figure:
    """A PNG next to the report."""

    path: Path
    caption: str


@dataclass
class SampleBlock:
    """One test turn: context, reference and each model's reply."""

    title: str
    context: list[tuple[str, str]]
    reference: str
    replies: list[tuple[str, str]] = field(default_factory=list)


Block = Heading | Paragraph | Table | Figure | SampleBlock

CSS = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei",
       "WenQuanYi Micro Hei", "Hiragino Sans GB", "Heiti SC", sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.5; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
caption { caption-side: top; text-align: left; color: #555; padding-bottom: 4px; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: 0.9em; }
img { max-width: 100%; }
.sample { border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 1em; margin: 1em 0; }
.ctx { color: #555; white-space: pre-wrap; } .ref, .reply { white-space: pre-wrap; }
.label { font-weight: bold; }
"""


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def to_markdown(title: str, blocks: list[Block], base: Path) -> str:
    """Markdown text; figures are linked relative to ``base`` (the report's directory)."""
    lines = [f"# {title}", ""]
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            lines += [block.text, ""]
        elif isinstance(block, Table):
            if block.caption:
                lines += [f"*{block.caption}*", ""]
            lines.append("| " + " | ".join(_md_cell(h) for h in block.header) + " |")
            lines.append("|" + "|".join("---" for _ in block.header) + "|")
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
            lines.append("")
        elif isinstance(block, Figure):
            rel = Path(os.path.relpath(block.path, base)).as_posix()
            lines += [f"![{block.caption}]({rel})", ""]
        elif isinstance(block, SampleBlock):
            lines += [f"**{block.title}**", ""]
            lines += [f"> {role}：{_md_cell(text)}  " for role, text in block.context]
            lines += ["", f"- **reference**: {_md_cell(block.reference)}"]
            lines += [f"- **{name}**: {_md_cell(reply) or '(empty)'}" for name, reply in block.replies]
            lines.append("")
    return "\n".join(lines)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"data:image/png;base64,{data}"


def to_html(title: str, blocks: list[Block]) -> str:
    """A self-contained HTML page (inline CSS, base64 images, no external assets)."""
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{e(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            out.append(f"<p>{e(block.text)}</p>")
        elif isinstance(block, Table):
            out.append("<table>")
            if block.caption:
                out.append(f"<caption>{e(block.caption)}</caption>")
            out.append("<tr>" + "".join(f"<th>{e(h)}</th>" for h in block.header) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in block.rows]
            out.append("</table>")
        elif isinstance(block, Figure):
            out.append(f'<figure><img src="{_img(block.path)}" alt="{e(block.caption)}">'
                       f"<figcaption>{e(block.caption)}</figcaption></figure>")
        elif isinstance(block, SampleBlock):
            out.append(f'<div class="sample"><div class="label">{e(block.title)}</div>')
            out += [f'<div class="ctx">{e(role)}：{e(text)}</div>' for role, text in block.context]
            out.append(f'<div class="ref"><span class="label">reference:</span> {e(block.reference)}</div>')
            out += [f'<div class="reply"><span class="label">{e(name)}:</span> {e(reply) or "(empty)"}</div>'
                    for name, reply in block.replies]
            out.append("</div>")
    out.append("</body></html>")
    return "\n".join(out)
