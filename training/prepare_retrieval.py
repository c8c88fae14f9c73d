"""Builds asymmetric (query -> passage) training pairs: the shape of a search box, which the
translation groups of prepare_data.py never show the model.

Output: work/retrieval.jsonl, one pair per line:
  {"src", "key", "q", "ql", "p", "pl"}
  key     what the passage is about (a FLORES article run or a help-page section); passages with
          the same key are never each other's negatives
  q, ql   query text and language; p, pl   passage text and language (pl may differ from ql)

Sources (train data only; FLORES dev/devtest, STS dev and xquad-dev are never read):
  flores-ict   inverse cloze over runs of consecutive FLORES train sentences (an article's
               neighbouring lines): one sentence is the query, the run is the passage, with the
               sentence removed two times in three
  help-ict     the same over LibreOffice help sections (paragraphs under one heading)
  help-title   a help section's heading -> its body
Each pair's passage is in the query's language or, one time in three, in another language of the
same aligned group (English half of those times). Help text left untranslated (the English text
under another language's folder) is not that language's.
"""

import html
import json
import os
import random
import re
from collections import defaultdict

from prepare_data import ENG, WORK, clean, flores_by_id, help_pages, useful

PASSAGE_CHARS = 1400
CROSS_SHARE = 1 / 3
HEADING_RE = re.compile(r'<(p|h[1-6])\b[^>]*\bid="([^"]+)"[^>]*>(.*?)</\1>', re.S)


def flores_runs():
    """Runs of consecutive index_ids (sentences that follow each other in one article)."""
    by_id = {int(i): texts for i, texts in flores_by_id().items()}
    runs, run = [], []
    for i in sorted(by_id):
        if run and i != run[-1] + 1:
            runs.append(run)
            run = []
        run.append(i)
    runs.append(run)
    out = []
    for run in runs:
        if len(run) < 2:
            continue
        langs = set.intersection(*(set(by_id[i]) for i in run))
        out.append({lang: [by_id[i][lang] for i in run] for lang in langs})
    return out


def help_sections():
    """{(page, heading id): {lang: (heading, [paragraphs])}} from the LibreOffice help pages, each
    language's heading and paragraphs without the untranslated ones (English copies: see
    prepare_data.translated); a heading left untranslated is None."""
    sections = defaultdict(dict)
    for lang, rel, doc in help_pages():
        heading = None
        for tag, para_id, body in HEADING_RE.findall(doc):
            text = clean(html.unescape(body))
            if tag != "p":
                heading = (para_id, text, [])
                sections[(rel, para_id)][lang] = heading
            elif heading is not None and useful(text, 4):
                heading[2].append(text)
    for by_lang in sections.values():
        eng = by_lang.get(ENG)
        if eng is None:
            continue
        english = set(eng[2])
        for lang, (para_id, title, paras) in list(by_lang.items()):
            if lang != ENG:
                by_lang[lang] = (para_id, None if title == eng[1] else title, [p for p in paras if p not in english])
    return sections


def passage(parts):
    text = ""
    for part in parts:
        if text and len(text) + len(part) > PASSAGE_CHARS:
            break
        text = f"{text} {part}".strip()
    return text


def pick_passage_lang(rng, lang, langs):
    if rng.random() >= CROSS_SHARE or len(langs) < 2:
        return lang
    if lang != ENG and ENG in langs and rng.random() < 0.5:
        return ENG
    return rng.choice([l for l in langs if l != lang])


def ict_pairs(rng, src, key, texts_by_lang, min_parts):
    """Inverse cloze: each part in turn is the query against the others (or the whole)."""
    langs = sorted(texts_by_lang)
    for lang in langs:
        parts = texts_by_lang[lang]
        if len(parts) < min_parts:
            continue
        i = rng.randrange(len(parts))
        if not useful(parts[i], 8):
            continue
        pl = pick_passage_lang(rng, lang, [l for l in langs if len(texts_by_lang[l]) == len(parts)])
        other = texts_by_lang[pl]
        keep = rng.random() < 1 / 3
        body = passage(other if keep else other[:i] + other[i + 1:])
        if body:
            yield {"src": src, "key": key, "q": parts[i], "ql": lang, "p": body, "pl": pl}


def main():
    rng = random.Random(7)
    pairs = []
    for r, run in enumerate(flores_runs()):
        # Several queries per run: runs are few (FLORES train has ~200) and languages many.
        for _ in range(3):
            pairs.extend(ict_pairs(rng, "flores-ict", f"flores:{r}", run, 2))
    sections = help_sections()
    for (page, hid), by_lang in sections.items():
        key = f"help:{page}#{hid}"
        bodies = {lang: paras for lang, (_, _, paras) in by_lang.items() if paras}
        pairs.extend(ict_pairs(rng, "help-ict", key, bodies, 3))
        langs = sorted(bodies)
        for lang in langs:
            title = by_lang[lang][1]
            if title is None or not useful(title, 4) or len(title) > 120:
                continue
            pl = pick_passage_lang(rng, lang, langs)
            body = passage(bodies[pl])
            if len(body) >= 80:
                pairs.append({"src": "help-title", "key": key, "q": title, "ql": lang, "p": body, "pl": pl})
    rng.shuffle(pairs)
    counts = defaultdict(int)
    with open(os.path.join(WORK, "retrieval.jsonl"), "w", encoding="utf-8") as f:
        for p in pairs:
            counts[p["src"]] += 1
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    print(dict(counts), "pairs in", len({p["ql"] for p in pairs}), "query languages", flush=True)


if __name__ == "__main__":
    main()
