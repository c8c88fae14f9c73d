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
  ui-help      a user-interface string (a menu item, a dialog's field: LibreOffice's translated UI)
               -> a help section whose body names it, in the same language: a short phrase
               against a passage that contains it, the keyword-like query of a search box
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


def ui_locale(code):
    """LibreOffice's UI catalogue locale as its help folders name the language (pt_BR -> pt-BR)."""
    return code.replace("_", "-").replace("@", "-")


# Scripts written without spaces between words (Thai, Lao, Tibetan, Myanmar, Khmer, kana, CJK).
NO_SPACES_RE = re.compile("[\u0e00-\u0fff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def ui_strings():
    """{lang: set of UI strings} specific enough to stand for what a help text is about: 2 to 6
    words, one word of 6 letters or more, or 3 to 20 characters in scripts without spaces."""
    out = defaultdict(set)
    with open(os.path.join(WORK, "groups.jsonl"), encoding="utf-8") as f:
        for line in f:
            g = json.loads(line)
            if g["src"] != "lo-ui":
                continue
            for code, text in g["texts"].items():
                words = len(text.split())
                if NO_SPACES_RE.search(text):
                    keep = 3 <= len(text) <= 20
                else:
                    keep = (words == 1 and 6 <= len(text) <= 30) or (2 <= words <= 6 and len(text) <= 60)
                if keep:
                    out[ui_locale(code) if code != ENG else ENG].add(text)
    return out


def in_word(a, b):
    """Whether a and b, side by side, are letters of one word (never in scripts without spaces)."""
    return a.isalnum() and b.isalnum() and not NO_SPACES_RE.match(a) and not NO_SPACES_RE.match(b)


def mentions(text, by_start):
    """The strings (indexed by their first two characters) that occur in text as whole words."""
    found = set()
    for i in range(len(text) - 1):
        if i and in_word(text[i - 1], text[i]):
            continue
        for s in by_start.get(text[i: i + 2], ()):
            end = i + len(s)
            if text.startswith(s, i) and (end == len(text) or not in_word(text[end - 1], text[end])):
                found.add(s)
    return found


def ui_help_pairs(rng, sections, strings, max_sections=3):
    """A UI string -> one of the (at most max_sections) help sections whose body names it."""
    bodies_by_lang = defaultdict(dict)
    for key, by_lang in sections.items():
        for lang, (_, _, paras) in by_lang.items():
            body = passage(paras)
            if lang in strings and len(body) >= 80:
                bodies_by_lang[lang][key] = body
    for lang, bodies in sorted(bodies_by_lang.items()):
        by_start = defaultdict(list)
        for s in strings[lang]:
            by_start[s[:2]].append(s)
        where = defaultdict(list)
        for key, body in bodies.items():
            for s in mentions(body, by_start):
                where[s].append(key)
        for s, keys in sorted(where.items()):
            if len(keys) > max_sections:
                continue
            key = rng.choice(keys)
            langs = sorted(l for l, (_, _, paras) in sections[key].items() if paras)
            pl = pick_passage_lang(rng, lang, langs)
            body = passage(sections[key][pl][2])
            if len(body) >= 80:
                yield {"src": "ui-help", "key": f"help:{key[0]}#{key[1]}", "q": s, "ql": lang, "p": body, "pl": pl}


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
    pairs.extend(ui_help_pairs(rng, sections, ui_strings()))
    rng.shuffle(pairs)
    counts = defaultdict(int)
    with open(os.path.join(WORK, "retrieval.jsonl"), "w", encoding="utf-8") as f:
        for p in pairs:
            counts[p["src"]] += 1
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    print(dict(counts), "pairs in", len({p["ql"] for p in pairs}), "query languages", flush=True)


if __name__ == "__main__":
    main()
