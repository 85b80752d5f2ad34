"""The documentation says what the code does.

- README's "Configuration reference" has one row per key of the keys[] table
  in src/core/config.c, under a "### [section]" heading, and no other rows;
  its defaults, number ranges and zero rules agree with config_defaults() and
  the setters wherever both can be read mechanically.
- README's "Command line" has a "### `postern NAME`" heading per entry of
  src/main.c's commands[] table, and mentions every action ("postern user
  add") and long option ("--password-stdin") that `postern CMD --help` prints.
- The example configuration in README passes `postern check`.
- docs/postern.conf.5 and docs/postern.8 are what scripts/gen-man makes of
  README, and meson installs them.
- docs/SECURITY.md names every message type of src/ipc/proto.h.

Standard library only; the parsers below are deliberately small and say
clearly what they could not find.
"""

import importlib.machinery
import importlib.util
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG_C = REPO / "src" / "core" / "config.c"
CONFIG_H = REPO / "src" / "core" / "config.h"
MAIN_C = REPO / "src" / "main.c"
PROTO_H = REPO / "src" / "ipc" / "proto.h"
README = REPO / "README.md"
SECURITY = REPO / "docs" / "SECURITY.md"
GEN_MAN = REPO / "scripts" / "gen-man"

CONF_SECTION = "Configuration reference"
CLI_SECTION = "Command line"


# --------------------------------------------------------------------------
# The code


def c_without_comments(text):
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.S)


def config_sections():
    """{enum name: section name}, from enum cfg_section and section_names[]."""
    src = c_without_comments(CONFIG_C.read_text())
    m = re.search(r"enum\s+cfg_section\s*\{(.*?)\}", src, re.S)
    assert m, "config.c: enum cfg_section not found"
    enums = [e.strip().split("=")[0].strip() for e in m.group(1).split(",")]
    enums = [e for e in enums if e]
    m = re.search(r"section_names\s*\[[^\]]*\]\s*=\s*\{(.*?)\};", src, re.S)
    assert m, "config.c: section_names[] not found"
    names = re.findall(r'"([^"]*)"', m.group(1))
    return {e: n for e, n in zip(enums, names) if n}


def config_keys():
    """[(section, key, setter)] in the order of config.c's keys[] table."""
    src = c_without_comments(CONFIG_C.read_text())
    m = re.search(r"struct\s+cfg_key\s+keys\s*\[\s*\]\s*=\s*\{(.*?)\n\};", src, re.S)
    assert m, "config.c: 'static const struct cfg_key keys[] = {' not found"
    sections = config_sections()
    out = []
    for enum, key, setter in re.findall(
            r'\{\s*(CFG_SEC_\w+)\s*,\s*"([^"]+)"\s*,\s*(\w+)\s*\}', m.group(1)):
        assert enum in sections, "config.c: keys[] uses unknown section %s" % enum
        out.append((sections[enum], key, setter))
    assert out, "config.c: keys[] is empty?"
    return out


def c_function(src, name):
    """The body of 'static int name(...) { ... }' in src, or None."""
    m = re.search(r"\n%s\s*\([^)]*\)\s*\{" % re.escape(name), src)
    if not m:
        return None
    depth, i = 1, m.end()
    while depth and i < len(src):
        depth += {"{": 1, "}": -1}.get(src[i], 0)
        i += 1
    return src[m.end():i - 1]


def setter_facts():
    """{(section, key): facts} for keys whose setter block is readable.

    facts: field (struct config member), kind (bool, duration, number, size,
    string), and for numbers min/max/auto, for durations zero_ok.
    A block guarded by more than one key name is left out.
    """
    src = c_without_comments(CONFIG_C.read_text())
    facts = {}
    for section, key, setter in config_keys():
        body = c_function(src, setter)
        if body is None:
            continue
        # the block after 'strcmp(key, "KEY") == 0' up to the next key test
        m = re.search(r'if\s*\(\s*strcmp\(key,\s*"%s"\)\s*==\s*0\s*\)' % re.escape(key), body)
        if not m:
            continue
        rest = body[m.end():]
        nxt = re.search(r'strcmp\(key,\s*"', rest)
        block = rest[:nxt.start()] if nxt else rest
        fields = set(re.findall(r"\bc->(\w+)", block))
        if len(fields) != 1:
            continue
        f = {"field": fields.pop()}
        call = re.search(r"\b(set_bool|set_duration|set_uint|config_parse_size|"
                         r"set_string|set_path|set_mechanisms)\s*\(([^;]*)\)", block)
        if not call:
            continue
        fn, args = call.group(1), [a.strip() for a in call.group(2).split(",")]
        if fn == "set_bool":
            f["kind"] = "bool"
        elif fn == "set_duration" and len(args) >= 3:
            f["kind"] = "duration"
            f["zero_ok"] = args[2] == "1"
        elif fn == "set_uint" and len(args) >= 5:
            f["kind"] = "number"
            try:
                f["min"], f["max"] = int(args[2]), int(args[3])
            except ValueError:
                continue
            f["auto"] = args[4] == "1"
        elif fn == "config_parse_size":
            f["kind"] = "size"
        else:
            f["kind"] = "string"
        facts[(section, key)] = f
    return facts


def c_number(expr):
    """Evaluate a C constant like '5U * 24 * 3600 * 1000' or '35ULL << 20'; None if not one."""
    e = re.sub(r"(\d+)(?:ULL|UL|LL|U|L)\b", r"\1", expr.strip())
    if not re.fullmatch(r"[\d\s*+<()-]+", e):
        return None
    try:
        return int(eval(e, {"__builtins__": {}}))  # digits and operators only
    except Exception:
        return None


def code_defaults():
    """{field: value} from config_defaults(): ints and string literals it sets."""
    src = c_without_comments(CONFIG_C.read_text())
    body = c_function(src, "config_defaults")
    assert body is not None, "config.c: config_defaults() not found"
    out = {}
    for field, expr in re.findall(r"\bc->(\w+)\s*=\s*([^;]+);", body):
        out[field] = c_number(expr)
    for field, lit in re.findall(r'copy\(\s*c->(\w+)\s*,\s*"([^"]*)"', body):
        out[field] = lit
    return out


def main_commands():
    src = c_without_comments(MAIN_C.read_text())
    m = re.search(r"struct\s+cli_command\s+commands\s*\[\s*\]\s*=\s*\{(.*?)\n\};", src, re.S)
    assert m, "main.c: 'static const struct cli_command commands[] = {' not found"
    names = re.findall(r'\{\s*"([^"]+)"\s*,', m.group(1))
    assert names, "main.c: commands[] is empty?"
    return names


# --------------------------------------------------------------------------
# README


def readme_section(title):
    lines, inside, fence = [], False, False
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            fence = not fence
        if not fence and re.match(r"^## (?!#)", line):
            if inside:
                break
            inside = line[3:].strip() == title
            continue
        if inside:
            lines.append(line)
    assert lines, "README.md has no '## %s' section" % title
    return lines


def split_row(line):
    line = line.strip().strip("|")
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)]


def readme_rows():
    """[(section, key, type, default, meaning, line text)] of the reference tables.

    Rows count when they belong to a table whose header starts with 'key',
    under a '### [section]' heading ('### [listener NAME]' is 'listener').
    """
    rows, section, header = [], None, None
    for line in readme_section(CONF_SECTION):
        m = re.match(r"^###\s+\[(\w+)[^\]]*\]\s*$", line)
        if m:
            section, header = m.group(1), None
            continue
        if line.startswith("#"):
            section, header = (None if line.startswith("### ") else section), None
            continue
        if not line.startswith("|"):
            header = None
            continue
        cells = split_row(line)
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if set(line.replace("|", "").strip()) <= set("-: "):
            continue
        if section is None or header[:1] != ["key"]:
            continue
        cells += [""] * (4 - len(cells))
        key = cells[0].strip("`")
        rows.append((section, key, cells[1], cells[2], cells[3], line))
    return rows


def readme_headings(title):
    return [l[4:].strip() for l in readme_section(title) if l.startswith("### ")]


# --------------------------------------------------------------------------
# Configuration reference


def fmt(pairs):
    return "\n".join("  [%s] %s" % p for p in sorted(pairs))


def test_every_config_key_is_documented_and_no_other():
    code = {(s, k) for s, k, _ in config_keys()}
    rows = readme_rows()
    doc = [(s, k) for s, k, *_ in rows]
    dup = {p for p in doc if doc.count(p) > 1}
    missing = code - set(doc)
    extra = set(doc) - code
    msg = []
    if missing:
        msg.append("in src/core/config.c keys[] but not in README's "
                   "configuration reference (add a row under '### [section]'):\n"
                   + fmt(missing))
    if extra:
        msg.append("in README's configuration reference but not in "
                   "src/core/config.c keys[] (remove or rename the row):\n"
                   + fmt(extra))
    if dup:
        msg.append("documented twice:\n" + fmt(dup))
    assert not msg, "\n".join(msg)


def test_every_section_has_a_heading():
    headings = set()
    for h in readme_headings(CONF_SECTION):
        m = re.match(r"^\[(\w+)", h)
        if m:
            headings.add(m.group(1))
    missing = set(config_sections().values()) - headings
    assert not missing, ("sections without a '### [name]' heading in README's "
                         "configuration reference: %s" % ", ".join(sorted(missing)))


def test_every_row_is_complete():
    bad = [r[5] for r in readme_rows() if not (r[1] and r[2] and r[3] and r[4])]
    assert not bad, ("rows need a type, a default and a meaning:\n  "
                     + "\n  ".join(bad))


def parse_duration(s):
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", s, re.I)
    if not m:
        return None
    mult = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}
    return int(m.group(1)) * mult[(m.group(2) or "s").lower()]


def parse_size(s):
    m = re.fullmatch(r"(\d+)([kmgt])?", s, re.I)
    if not m:
        return None
    shift = {"": 0, "k": 10, "m": 20, "g": 30, "t": 40}[(m.group(2) or "").lower()]
    return int(m.group(1)) << shift


def documented_default(cell, kind):
    """The value a README default cell names, or None if it is descriptive."""
    cell = cell.strip()
    if cell == "none" or cell.startswith("none ("):
        return {"string": "", "bool": None}.get(kind, 0)
    m = re.fullmatch(r"`([^`]*)`", cell)
    if not m:
        return None
    v = m.group(1)
    if kind == "bool":
        return {"yes": 1, "no": 0}.get(v)
    if kind == "duration":
        return parse_duration(v)
    if kind == "size":
        return parse_size(v)
    if kind == "number":
        return 0 if v == "auto" else (int(v) if v.isdigit() else None)
    return v


def test_defaults_match_config_defaults():
    facts = setter_facts()
    defaults = code_defaults()
    wrong, checked = [], 0
    for section, key, _type, default, _meaning, line in readme_rows():
        f = facts.get((section, key))
        if f is None or section == "listener":
            continue
        want = documented_default(default, f["kind"])
        if want is None:
            continue
        have = defaults.get(f["field"], "" if f["kind"] == "string" else 0)
        if have is None:
            continue  # an expression this test cannot evaluate
        checked += 1
        if have != want:
            wrong.append("[%s] %s: README says %s, config_defaults() sets %s = %r"
                         % (section, key, default, f["field"], have))
    assert not wrong, "defaults differ:\n  " + "\n  ".join(wrong)
    assert checked >= 40, "only %d defaults could be compared: parser broken?" % checked


def pgsql_default_queries():
    """{key: query} from the default_* strings of src/auth/passdb_pgsql.c."""
    path = REPO / "src" / "auth" / "passdb_pgsql.c"
    if not path.exists():
        return {}
    src = c_without_comments(path.read_text())
    out = {}
    for name, body in re.findall(
            r"static\s+const\s+char\s+default_(\w+)\s*\[\s*\]\s*=\s*((?:\s*\"(?:[^\"\\]|\\.)*\")+)\s*;",
            src):
        out["query_" + name] = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', body))
    return out


def test_pgsql_default_queries_match_the_driver():
    queries = pgsql_default_queries()
    wrong = []
    for section, key, _type, default, _meaning, _line in readme_rows():
        if section != "pgsql" or not key.startswith("query_"):
            continue
        m = re.fullmatch(r"`([^`]*)`", default.strip())
        if key not in queries:
            wrong.append("[pgsql] %s: no default_%s in src/auth/passdb_pgsql.c"
                         % (key, key[len("query_"):]))
        elif not m or m.group(1) != queries[key]:
            wrong.append("[pgsql] %s: README says %s, the driver's default is `%s`"
                         % (key, default, queries[key]))
    assert not wrong, "\n  ".join(["pgsql queries differ:"] + wrong)


def test_number_ranges_and_zero_rules_match_the_setters():
    facts = setter_facts()
    wrong = []
    for section, key, typ, _default, meaning, _line in readme_rows():
        f = facts.get((section, key))
        if f is None:
            continue
        if f["kind"] == "number":
            m = re.search(r"number (\d+)\.\.(\d+)", typ)
            want = "number %d..%d%s" % (f["min"], f["max"],
                                        " or `auto`" if f["auto"] else "")
            if not m or (int(m.group(1)), int(m.group(2))) != (f["min"], f["max"]) \
                    or ("`auto`" in typ) != f["auto"]:
                wrong.append("[%s] %s: type '%s', the setter takes '%s'"
                             % (section, key, typ, want))
        elif f["kind"] == "duration":
            says_zero = "`0`" in meaning
            if says_zero != f["zero_ok"]:
                wrong.append("[%s] %s: the setter %s 0, the meaning %s"
                             % (section, key,
                                "accepts" if f["zero_ok"] else "refuses",
                                "says what `0` does" if says_zero
                                else "does not say what `0` does"))
    assert not wrong, "types differ from the setters:\n  " + "\n  ".join(wrong)


def test_readme_example_configuration_passes_postern_check(run_postern, tmp_path):
    lines = readme_section(CONF_SECTION)
    text, inside = [], False
    for line in lines:
        if line.startswith("```ini"):
            inside = True
            continue
        if inside and line.startswith("```"):
            break
        if inside:
            text.append(line)
    assert text, "README's configuration reference has no ```ini example"
    inst = tmp_path / "inst"
    r = run_postern("init", str(inst))
    assert r.returncode == 0, r.stderr
    conf = "\n".join(text) + "\n"
    conf = conf.replace("/etc/postern/", str(inst) + "/")
    conf = conf.replace("/var/spool/postern", str(inst / "spool"))
    path = inst / "example.conf"
    path.write_text(conf)
    r = run_postern("check", "-c", str(path))
    assert r.returncode == 0, "README's example fails postern check:\n" + r.stderr


# --------------------------------------------------------------------------
# Command line


def cli_text():
    return "\n".join(readme_section(CLI_SECTION))


def test_every_subcommand_has_a_section():
    names = main_commands()
    headings = set()
    for h in readme_headings(CLI_SECTION):
        m = re.match(r"^`postern (\w+)`", h)
        if m:
            headings.add(m.group(1))
    missing = [n for n in names if n not in headings]
    extra = sorted(headings - set(names))
    assert not missing, ("src/main.c commands without a '### `postern NAME`' "
                         "heading in README's command line section: "
                         + ", ".join(missing))
    assert not extra, ("README's command line section documents commands "
                       "src/main.c does not have: " + ", ".join(extra))


def help_text(run_postern, *words):
    r = run_postern(*words, "--help")
    return r.stdout + r.stderr


def usage_verbs(text):
    """[[word, ...]] after 'postern' on each usage line, up to the first argument."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^(?:usage:)?\s+postern\s+(.*)$", line) or \
            re.match(r"^usage:\s+postern\s+(.*)$", line)
        if not m:
            continue
        words = []
        for w in m.group(1).split():
            if not re.fullmatch(r"[a-z][a-z0-9-]*(\|[a-z][a-z0-9-]*)*", w):
                break
            words.append(w)
        if words:
            out.append(words)
    return out


def expand(words):
    """['user', 'show|disable|enable'] -> ['user show', 'user disable', 'user enable']"""
    paths = [""]
    for w in words:
        paths = [(p + " " + alt).strip() for p in paths for alt in w.split("|")]
    return paths


def test_every_action_and_option_of_the_help_texts_is_documented(run_postern):
    doc = cli_text()
    missing = []
    todo = [[n] for n in main_commands()]
    seen = set()
    while todo:
        words = todo.pop(0)
        key = " ".join(words)
        if key in seen:
            continue
        seen.add(key)
        text = help_text(run_postern, *words)
        for path in (p for v in usage_verbs(text) for p in expand(v)):
            if ("postern " + path) not in doc:
                missing.append("'postern %s' (from postern %s --help)" % (path, key))
        for opt in sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))):
            if opt == "--help":
                continue
            if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(opt), doc):
                missing.append("option %s (from postern %s --help)" % (opt, key))
        for sub in re.findall(r"see postern ([a-z ]+?) --help", text):
            todo.append(sub.split())
    assert not missing, ("README's command line section does not mention:\n  "
                         + "\n  ".join(missing))


def test_exit_codes_are_documented():
    doc = cli_text()
    assert re.search(r"[Ee]xit codes", doc), "the command line section has no exit codes"
    for code in ("`0`", "`1`", "`2`"):
        assert code in doc, "exit code %s not described" % code


# --------------------------------------------------------------------------
# Man pages and SECURITY.md


def load_gen_man():
    loader = importlib.machinery.SourceFileLoader("gen_man", str(GEN_MAN))
    spec = importlib.util.spec_from_loader("gen_man", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def test_man_pages_are_generated_from_readme():
    gen = load_gen_man()
    pages = gen.pages(README.read_text(), gen.project_version(REPO))
    stale = []
    for rel, content in pages.items():
        path = REPO / rel
        if not path.exists() or path.read_text() != content:
            stale.append(rel)
    assert not stale, ("out of date with README.md: %s (run scripts/gen-man)"
                       % ", ".join(stale))


def test_man_pages_render_without_warnings(tmp_path):
    """groff -man (when installed) reads the pages without a warning."""
    import shutil
    if shutil.which("groff") is None:
        return
    for page in ("docs/postern.8", "docs/postern.conf.5"):
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(REPO / page)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and r.stderr.strip() == "", \
            "%s: groff says:\n%s" % (page, r.stderr)


def test_meson_installs_the_man_pages():
    text = (REPO / "meson.build").read_text()
    m = re.search(r"install_man\(([^)]*)\)", text)
    assert m, "meson.build does not call install_man()"
    for page in ("docs/postern.8", "docs/postern.conf.5"):
        assert page in m.group(1), "meson.build install_man() lacks " + page


def test_security_md_names_every_ipc_message():
    src = c_without_comments(PROTO_H.read_text())
    types = re.findall(r"\b(PROTO_[A-Z_]+)\s*=\s*\d+", src)
    m = re.search(r"enum\s+proto_type\s*\{(.*?)\}", src, re.S)
    assert m, "proto.h: enum proto_type not found"
    types = re.findall(r"\b(PROTO_[A-Z0-9_]+)\b", m.group(1))
    assert types, "proto.h: no message types?"
    text = SECURITY.read_text()
    missing = [t for t in types if t not in text]
    assert not missing, ("docs/SECURITY.md does not describe these IPC messages "
                         "of src/ipc/proto.h: " + ", ".join(missing))
