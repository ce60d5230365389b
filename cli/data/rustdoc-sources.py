#!/usr/bin/env python3
"""Writes the Rust sources that rustdoc rendered as HTML source pages back as `.rs` files.

The toolchain's `rust-docs` component holds the standard library's source only as rustdoc's
`src/` pages (one `FILE.rs.html` per source file). `airlock index shapes --reference` reads
source trees, so this recovers them: the `<code>` block of each page, without the line-number
anchors and the highlighting tags, HTML entities decoded.

Usage: rustdoc-sources.py HTML_SRC_DIR OUT_DIR
  e.g. rustdoc-sources.py "$(rustc --print sysroot)/share/doc/rust/html/src" /tmp/rust-std
"""
import html
import os
import re
import sys

CODE = re.compile(r'<pre class="rust"><code>(.*?)</code></pre>', re.S)
LINE_ANCHOR = re.compile(r"<a href=#\d+ id=\d+ data-nosnippet>\d+</a>")
TAG = re.compile(r"<[^>]+>")


def main(source_dir: str, out_dir: str) -> int:
    written = 0
    for root, _, files in os.walk(source_dir):
        for name in sorted(files):
            if not name.endswith(".rs.html"):
                continue
            path = os.path.join(root, name)
            with open(path, encoding="utf-8") as page:
                found = CODE.search(page.read())
            if not found:
                print(f"{path}: no source block; skipped", file=sys.stderr)
                continue
            code = html.unescape(TAG.sub("", LINE_ANCHOR.sub("", found.group(1))))
            out = os.path.join(out_dir, os.path.relpath(path, source_dir)[: -len(".html")])
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(out, "w", encoding="utf-8") as f:
                f.write(code)
            written += 1
    print(f"wrote {written} source files to {out_dir}")
    return 0 if written else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
