"""A postmortem's Markdown as a PDF (`sre-copilot postmortem ID --pdf FILE`), with fpdf2.

fpdf2 is pure Python but pulls in Pillow and fontTools (about 40 MB installed): far above what a
function's cold start should load for a file people open a few times, so it stays out of the Lambda
layer. It is the optional `pdf` extra (`pip install 'sre-copilot[pdf]'`); the Markdown in S3 stays
the artefact, and this renders it wherever the CLI runs.

Only the Markdown the postmortem writer emits is handled: `#`/`##`/`###` headings, `-` bullets,
`|` tables (as aligned rows), paragraphs and inline `code`/**bold**. PDF core fonts are Latin-1, so
the few typographic characters the draft uses are spelled in ASCII.
"""

from __future__ import annotations

from pathlib import Path

from sre_copilot.errors import InvalidPayload

# Typographic characters the draft may hold, by code point (the source stays ASCII-clean).
_ASCII = {"\u2192": "->", "\u2190": "<-", "\u2014": "-", "\u2013": "-", "\u00b7": "-", "\u2026": "...",
          "\u2265": ">=", "\u2264": "<=", "\u00d7": "x", "\u201c": '"', "\u201d": '"', "\u2018": "'",
          "\u2019": "'", "\u2022": "-", "\u2713": "v", "\u2717": "x"}


def _latin1(text: str) -> str:
    for char, plain in _ASCII.items():
        text = text.replace(char, plain)
    return text.encode("latin-1", "replace").decode("latin-1")


def _inline(text: str) -> str:
    return _latin1(text.replace("`", ""))


def render_pdf(markdown: str, title: str = "Postmortem") -> bytes:
    """The PDF bytes of a postmortem's Markdown."""
    try:
        from fpdf import FPDF
        from fpdf.enums import XPos, YPos
    except ImportError as exc:
        raise InvalidPayload("PDF output needs fpdf2, which stays outside the Lambda layer: "
                             "pip install 'sre-copilot[pdf]' (or pandoc postmortem.md -o postmortem.pdf)") from exc
    pdf = FPDF(format="A4")
    pdf.set_title(_latin1(title))
    pdf.set_creator("SRE Copilot")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def write(text: str, *, size: float = 10, style: str = "", family: str = "Helvetica", gap: float = 1.5,
              indent: float = 0.0) -> None:
        pdf.set_font(family, style, size)
        pdf.set_x(pdf.l_margin + indent)
        pdf.multi_cell(width - indent, size * 0.5, text, markdown=family == "Helvetica",
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(gap)

    for raw in markdown.splitlines():
        line = raw.rstrip()
        if not line.strip():
            pdf.ln(1.5)
        elif line.startswith("### "):
            write(_inline(line[4:]), size=11, style="B", gap=1)
        elif line.startswith("## "):
            pdf.ln(2)
            write(_inline(line[3:]), size=13, style="B", gap=1.5)
        elif line.startswith("# "):
            write(_inline(line[2:]), size=16, style="B", gap=3)
        elif line.lstrip().startswith(("- ", "* ")):
            depth = (len(line) - len(line.lstrip())) // 2
            write("- " + _inline(line.lstrip()[2:]), indent=4.0 + 4.0 * depth, gap=0.5)
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if all(set(c) <= set("-: ") for c in cells):
                continue  # the header separator row
            write(_latin1("  ".join(cells)).replace("`", ""), size=8, family="Courier", gap=0.3)
        else:
            write(_inline(line))
    return bytes(pdf.output())


def write_pdf(markdown: str, path: Path, title: str = "Postmortem") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_pdf(markdown, title))
    return path
