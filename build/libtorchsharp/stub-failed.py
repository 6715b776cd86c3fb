#!/usr/bin/env python3
"""Stubs the functions of TorchSharp's native bridge that do not build against this libtorch (build/device-check.sh).

    stub-failed.py SRC_DIR BUILD_LOG STUB_LIST

Reads a ninja/gcc (or clang) log, finds the functions of SRC_DIR's sources that hold the errors ('error:' lines,
'required from here' / 'requested here' lines of template instantiations) and the functions the linker names for
undefined references (-z defs), and replaces each body:
  - an exported C function (THS*, crc32c*): sets TorchSharp's torch_last_err and returns a zero value, so the managed
    side raises "TorchSharp bridge: THSx is not available ..." as it does for any libtorch error;
  - any other function (helpers, templates): throws, and the exported function that calls it turns that into the same
    error through its CATCH.
Appends "file<TAB>function<TAB>reason" lines to STUB_LIST. Exit status: 0 when something was stubbed, 2 when the log
has errors but none could be placed in a function (then the build has failed for good), 1 on bad arguments.
"""
import os, re, sys

ERR = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?:\d+:)?\s*(?:fatal error|error)\b")
INST = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?:\d+:)?\s+(?:required from here|required from|note: in instantiation of|note: requested here)")
CLANG_REQ = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):\d+: note: in instantiation .* requested here")
LD_FN = re.compile(r"in function [`'\"](?P<fn>[^'`\"]+)['`\"]")
LD_UNDEF = re.compile(r"undefined reference to [`'\"](?P<sym>[^'`\"]+)['`\"]")


def strip_code(text):
    """The text with comments, string and char literals and preprocessor lines blanked (same length, same lines)."""
    out, i, n = list(text), 0, len(text)
    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "
    line_start = True
    while i < n:
        c = text[i]
        if line_start and c in " \t":
            i += 1; continue
        if line_start and c == "#":
            j = i
            while j < n and not (text[j] == "\n" and text[j - 1] != "\\"):
                j += 1
            blank(i, j); i = j; continue
        line_start = c == "\n"
        if text.startswith("//", i):
            j = text.find("\n", i); j = n if j < 0 else j
            blank(i, j); i = j; continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2); j = n if j < 0 else j + 2
            blank(i, j); i = j; continue
        if c == 'R' and text.startswith('R"', i):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            if m:
                end = text.find(")" + m.group(1) + '"', i)
                j = n if end < 0 else end + len(m.group(1)) + 2
                blank(i, j); i = j; continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            blank(i, min(j + 1, n)); i = j + 1; continue
        i += 1
    return "".join(out)


class Fn:
    def __init__(self, header_start, open_, close, header):
        self.header_start, self.open, self.close, self.header = header_start, open_, close, header
        m = None
        # The function's name: the identifier (possibly qualified, or an operator) before its parameter list.
        depth, k = 0, len(header) - 1
        while k >= 0:
            ch = header[k]
            if ch == ")":
                depth += 1
            elif ch == "(":
                depth -= 1
                if depth == 0:
                    m = re.search(r"([A-Za-z_~][\w:~]*(?:operator\s*\S+)?)\s*$", header[:k])
                    if m:
                        self.prefix = header[:m.start()]
                        break
            k -= 1
        self.name = m.group(1) if m else "?"
        if not m:
            self.prefix = ""

    @property
    def exported(self):
        return re.match(r"^(THS|crc32c)\w*$", self.name) is not None

    def returns_void(self):
        p = re.sub(r"\b(static|inline|extern|EXPORT_API|constexpr|virtual)\b", " ", self.prefix)
        p = re.sub(r"template\s*<[^{;]*>", " ", p)
        return p.strip() == "void"

    def is_ctor_or_dtor(self):
        parts = self.name.split("::")
        return len(parts) >= 2 and (parts[-1] == parts[-2] or parts[-1].startswith("~"))


def functions(text):
    """Function definitions at namespace scope (inside namespace / extern "C" blocks too)."""
    code = strip_code(text)
    fns, stack, boundary = [], [], 0   # stack of 'ns' / 'fn' / 'other' with start offsets
    for i, c in enumerate(code):
        if c == "{":
            if stack and stack[-1][0] != "ns":
                stack.append(("inner", i)); continue
            header = code[boundary:i]
            h = " ".join(header.split())
            if re.search(r"\bnamespace\b[^;]*$", h) or re.search(r'\bextern\s*$', h) or h.endswith('extern "C"') or h == "":
                stack.append(("ns", i)); boundary = i + 1; continue
            # A function: the header's last parenthesised list is followed only by qualifiers, a trailing return
            # type or a constructor's initialiser list.
            core = re.sub(r"\s*(const|noexcept(\s*\([^)]*\))?|override|final|volatile|&&?|->\s*[\w:<>,\s*&]+)\s*$", "", h)
            core = re.sub(r"\)\s*:\s*[\s\S]*$", ")", core) if ")" in core else core
            is_fn = core.endswith(")") and not re.match(r"^\s*(struct|class|union|enum)\b", h) and not re.search(r"=\s*$", h)
            stack.append(("fn" if is_fn else "other", i, boundary, header))
        elif c == "}":
            if not stack:
                continue
            top = stack.pop()
            if top[0] == "fn":
                _, open_, hstart, header = top
                # Trim the header's leading whitespace so the replacement keeps the layout.
                lead = len(header) - len(header.lstrip())
                fns.append(Fn(hstart + lead, open_, i, text[hstart + lead:open_]))
            if top[0] in ("ns", "fn", "other"):
                boundary = i + 1
        elif c == ";" and (not stack or stack[-1][0] == "ns"):
            boundary = i + 1
    return fns


def stub_body(fn, reason):
    msg = f"TorchSharp bridge: {fn.name} is not available: it did not build against this libtorch ({reason})"
    msg = msg.replace("\\", "\\\\").replace('"', '\\"')
    if fn.exported:
        ret = "" if fn.returns_void() else " return {};"
        return "{ torch_last_err = strdup(\"%s\");%s }" % (msg, ret)
    return "{ throw std::runtime_error(\"%s\"); }" % msg


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr); return 1
    src_dir, log_path, stub_list = sys.argv[1:]
    src_dir = os.path.realpath(src_dir)
    sources = {}
    for name in os.listdir(src_dir):
        if name.endswith((".cpp", ".c", ".h")):
            sources[name] = os.path.join(src_dir, name)
    log = open(log_path, errors="replace").read().splitlines()
    wanted = {}          # file -> {line: reason}
    by_name = {}         # function name -> reason (linker)
    errors = 0
    for k, line in enumerate(log):
        for rx in (ERR, INST, CLANG_REQ):
            m = rx.match(line.strip())
            if not m:
                continue
            if rx is ERR:
                errors += 1
            base = os.path.basename(m.group("file"))
            if base in sources and os.path.realpath(m.group("file")).endswith(base):
                reason = line.strip().split("error:", 1)[-1].strip() if "error:" in line else "instantiation error"
                wanted.setdefault(base, {}).setdefault(int(m.group("line")), reason[:160])
            break
        m = LD_UNDEF.search(line)
        if m:
            errors += 1
            for back in range(k, max(k - 4, -1), -1):
                f = LD_FN.search(log[back])
                if f:
                    by_name.setdefault(f.group("fn").split("(")[0], "undefined in this libtorch: " + m.group("sym")[:120])
                    break
    stubbed = []
    for base, path in sources.items():
        text = open(path, errors="replace").read()
        fns = functions(text)
        lines_at = [0]
        for ch_i, ch in enumerate(text):
            if ch == "\n":
                lines_at.append(ch_i + 1)
        todo = {}
        for line_no, reason in wanted.get(base, {}).items():
            off = lines_at[min(line_no - 1, len(lines_at) - 1)]
            end = lines_at[line_no] if line_no < len(lines_at) else len(text)
            for fn in fns:
                if fn.header_start <= end - 1 and off <= fn.close:
                    todo.setdefault(fn.open, (fn, reason))
        for fn in fns:
            for name, reason in by_name.items():
                if fn.name == name or fn.name.endswith("::" + name):
                    todo.setdefault(fn.open, (fn, reason))
        todo = {k: v for k, v in todo.items() if "TorchSharp bridge:" not in text[v[0].open:v[0].close]}
        if not todo:
            continue
        for open_, (fn, reason) in sorted(todo.items(), reverse=True):
            if fn.is_ctor_or_dtor():
                body = "{ throw std::runtime_error(\"TorchSharp bridge: %s did not build against this libtorch\"); }" % fn.name
            else:
                body = stub_body(fn, re.sub(r"[\u2018\u2019'\"`\\]", "", reason)[:100])
            text = text[:fn.open] + body + text[fn.close + 1:]
            stubbed.append((base, fn.name, reason))
        if "#include <stdexcept>" not in text:
            text = "#include <stdexcept>\n#include <cstring>\n" + text
        open(path, "w").write(text)
    with open(stub_list, "a") as f:
        for base, name, reason in stubbed:
            f.write(f"{base}\t{name}\t{reason}\n")
    print(f"stub-failed: {errors} error lines, {len(stubbed)} functions stubbed")
    for base, name, reason in stubbed:
        print(f"  {base}: {name}: {reason}")
    return 0 if stubbed else 2


if __name__ == "__main__":
    sys.exit(main())
