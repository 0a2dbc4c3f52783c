"""The programs that run in the sandbox: a submission wrapped to be called, to run test code after
it, or a checker wrapped to read its three files from stdin (so it compiles once per item and every
test's check runs in the same warm session)."""

from __future__ import annotations

import json
import re
from typing import Any

from sandboxes.languages import LANGUAGES, canonical

_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)```", re.S)
CALL_LANGUAGES = ("python", "javascript")
"""Languages whose functions a test can call with decoded arguments."""

# The call harness, after the solution. It reads {"fn", "args", "marker"} on stdin, calls the
# function (or the method of `class Solution`, LeetCode's starter), and prints the marker and the
# return value as JSON on the real stdout; what the solution prints goes to stderr.
_PYTHON_CALL = r"""

def _referee_call():
    import json, sys, traceback
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)
    request = json.loads(sys.stdin.read())
    name, real_stdout = request["fn"], sys.stdout
    target = globals().get(name)
    if target is None or isinstance(target, type):
        owner = globals().get("Solution")
        owners = [owner] if isinstance(owner, type) else []
        owners += [v for v in list(globals().values()) if isinstance(v, type) and hasattr(v, name)]
        target = next((getattr(o(), name) for o in owners if hasattr(o, name)), None)
    if not callable(target):
        print(f"no function or Solution method named {name!r}", file=sys.stderr)
        sys.exit(3)

    def plain(value):
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        if isinstance(value, (set, frozenset)):
            return sorted((plain(v) for v in value), key=repr)
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        return {"__unserialisable__": type(value).__name__}

    sys.stdout = sys.stderr
    try:
        value = target(*request["args"])
    except BaseException:
        traceback.print_exc()
        sys.exit(1)
    finally:
        sys.stdout = real_stdout
    real_stdout.write("\n" + request["marker"] + json.dumps(plain(value)) + "\n")
    real_stdout.flush()


_referee_call()
"""

_JS_CALL = r"""
;(function refereeCall() {
  const request = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const name = request.fn;
  const isClass = (f) => /^class[\s{]/.test(Function.prototype.toString.call(f));
  let target = null;
  try { target = eval(name); } catch (e) { target = null; }
  if (typeof target === "function" && isClass(target)) target = null;
  if (typeof target !== "function") {
    let Owner = null;
    try { Owner = eval("Solution"); } catch (e) { Owner = null; }
    if (typeof Owner === "function" && typeof Owner.prototype[name] === "function") {
      const instance = new Owner();
      target = instance[name].bind(instance);
    }
  }
  if (typeof target !== "function" && typeof module.exports[name] === "function") {
    target = module.exports[name];
  }
  if (typeof target !== "function") {
    process.stderr.write("no function named " + name + "\n");
    process.exit(3);
  }
  const realLog = console.log;
  console.log = (...parts) => process.stderr.write(parts.join(" ") + "\n");
  let value;
  try {
    value = target(...request.args);
  } catch (e) {
    process.stderr.write(String((e && e.stack) || e) + "\n");
    process.exit(1);
  }
  console.log = realLog;
  const entries = (o) => Object.entries(o).map(([k, x]) => [k, plain(x)]);
  const plain = (v) => {
    if (v === undefined) return null;
    if (typeof v === "bigint") return v.toString();
    if (v instanceof Set) return [...v].map(plain);
    if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]));
    if (Array.isArray(v)) return v.map(plain);
    if (v && typeof v === "object") return Object.fromEntries(entries(v));
    return v;
  };
  process.stdout.write("\n" + request.marker + JSON.stringify(plain(value)) + "\n");
})();
"""

_PYTHON_CHECKER = r"""
import json as _j, os as _o, sys as _s
_files = _j.loads(_s.stdin.read())
_o.makedirs("/tmp/check", exist_ok=True)
for _name, _text in _files.items():
    with open("/tmp/check/" + _name, "w") as _f:
        _f.write(_text)
_s.argv = ["checker.py", *("/tmp/check/" + n for n in %(order)s)]
_s.stdin = open("/tmp/check/input")
del _j, _o, _files
exec(compile(%(source)s, "checker.py", "exec"), {"__name__": "__main__"})
"""

_CPP_CHECKER_MAIN = r"""
#undef main
#include <cstdio>
#include <string>
#include <vector>
static std::string referee_read(std::FILE* in) {
  unsigned long size = 0;
  if (std::fscanf(in, "%lu", &size) != 1) return std::string();
  std::fgetc(in);
  std::string text(size, '\0');
  if (size && std::fread(&text[0], 1, size, in) != size) text.clear();
  return text;
}
int main() {
  const char* names[] = {"/tmp/input", "/tmp/output", "/tmp/answer"};
  for (const char* name : names) {
    std::string text = referee_read(stdin);
    std::FILE* out = std::fopen(name, "wb");
    if (!out) return 3;
    std::fwrite(text.data(), 1, text.size(), out);
    std::fclose(out);
  }
  std::vector<char*> argv = {(char*)"checker", (char*)names[0], (char*)names[1], (char*)names[2], nullptr};
  return referee_checker_main(4, argv.data());
}
"""


def extract_code(text: str, language: str) -> str | None:
    """The last fenced block tagged as `language`, else the last untagged block."""
    names = LANGUAGES[canonical(language) or language].fenced_as
    blocks = _FENCE.findall(text)
    tagged = [code for tag, code in blocks if tag.lower() in names]
    if tagged:
        return tagged[-1]
    untagged = [code for tag, code in blocks if not tag]
    return untagged[-1] if untagged else None


def call_program(code: str, language: str) -> str:
    """The submission followed by the harness that calls the tested function."""
    if language == "python":
        return f"{code}\n{_PYTHON_CALL}"
    if language == "javascript":
        return f"{code}\n{_JS_CALL}"
    raise ValueError(f"call-based tests run Python or JavaScript, not {language}")


def call_input(fn_name: str, args: tuple[Any, ...], marker: str) -> str:
    return json.dumps({"fn": fn_name, "args": list(args), "marker": marker})


def call_result(stdout: str, marker: str) -> str | None:
    """The JSON text the harness printed after the marker, or None if it never got there."""
    at = stdout.rfind("\n" + marker)
    if at < 0:
        return None
    return stdout[at + 1 + len(marker) :].split("\n", 1)[0]


def script_program(code: str, test: str, language: str, secret: str) -> str:
    """The solution, then the test code, then (Python, JavaScript) a line printing a secret: a
    submission that exits 0 before the tests ran does not pass. The secret comes on stdin, read
    before the solution runs, and stdin is then empty: the solution cannot read it and print it."""
    if language == "python":
        futures = "".join(_FUTURE_IMPORT.findall(code))
        body = _FUTURE_IMPORT.sub("", code)
        return f"{futures}{_PYTHON_PROOF}\n{body}\n\n{test}\n\n_referee_prove()\n"
    if language == "javascript":
        return f"{_JS_PROOF}\n{code}\n\n{test}\n\n__refereeProve();\n"
    return f"{code}\n\n{test}\n"


_FUTURE_IMPORT = re.compile(r"^from __future__ import [^\n]*\n?", re.M)
_PYTHON_PROOF = """\
def _referee_proof():
    import os, sys
    line = sys.stdin.readline().strip()
    empty = os.open(os.devnull, os.O_RDONLY)
    os.dup2(empty, 0)
    os.close(empty)
    sys.stdin = open(0, closefd=False)
    return lambda: print(line)
_referee_prove = _referee_proof()
del _referee_proof"""
_JS_PROOF = (
    "const __refereeProve = (() => { const line = require('fs').readFileSync(0, 'utf8')"
    ".split('\\n')[0].trim(); return () => console.log(line); })();"
)


def checks_secret(language: str) -> bool:
    return language in CALL_LANGUAGES


def multipl_e_completion(text: str, code: str | None, stub: str, stop_tokens: tuple[str, ...]) -> str:
    """What the policy wrote after MultiPL-E's prompt: a fenced block that repeats the prompt (or its
    signature) is cut to the part after it; the rest is cut at the first stop token, as MultiPL-E's
    evaluator does before it appends the tests."""
    body = code if code is not None else text
    if stub and body.lstrip().startswith(stub.strip()):
        body = body.lstrip()[len(stub.strip()) :]
    else:
        signature = next((line.strip() for line in reversed(stub.splitlines()) if _declares(line)), "")
        found = body.find(signature) if signature else -1
        if found >= 0:
            body = body[found + len(signature) :]
    cuts = [body.find(stop) for stop in stop_tokens if stop and body.find(stop) >= 0]
    return body[: min(cuts)] if cuts else body


def _declares(line: str) -> bool:
    """A line of a prompt that opens the function to complete (`def f(x):`, `fn f(x: i64) {`, ...),
    not a comment or the docstring under it."""
    text = line.strip()
    return "(" in text and not text.startswith(("#", "//", "/*", "*", '"', "'", ">>>"))


def checker_program(source: str, language: str, order: tuple[str, ...]) -> str:
    """A checker that reads (input, output, answer) from stdin instead of three paths, then runs as
    given with the paths in its protocol's `order` (names among input/output/answer)."""
    if language == "python":
        return _PYTHON_CHECKER % {"order": repr(list(order)), "source": repr(source)}
    if language == "cpp":
        if order != ("input", "output", "answer"):
            raise ValueError("C++ checkers follow testlib: checker input output answer")
        return f"#define main referee_checker_main\n{source}\n{_CPP_CHECKER_MAIN}"
    raise ValueError(f"checkers run in Python or C++, not {language}")


def checker_input(language: str, files: dict[str, str]) -> str:
    """The stdin of one check: JSON for the Python wrapper, length-prefixed texts for C++."""
    if language == "python":
        return json.dumps(files)
    return "".join(
        f"{len(text.encode())}\n{text}" for text in (files["input"], files["output"], files["answer"])
    )
