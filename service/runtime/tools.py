"""Tools a trainer's rollout loop can call through Referee (`POST /v1/tools/call`): `python` (code in
the sandbox) and `calculator` (exact arithmetic). Their definitions are OpenAI function tools, so the
same list goes into a prompt's `tools` and into an item's `tools` for `tool_call_validity`.

A bad call is not an HTTP error: its result is a tool message that says what was wrong, which is what
the policy should see next in its trajectory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandboxes import RunRequest, RunResult, Sandbox, SandboxUnavailable
from service.grading.calculator import CalculatorError, calculate
from service.grading.trajectory.turns import ToolCall, call_problems, tool_schemas

MAX_CODE_CHARS = 100_000
MAX_OUTPUT_CHARS = 4000  # what goes back into the trajectory: enough to read, not a context flood

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "python",
            "description": "Run a Python 3 program in a sandbox (no network, no files kept) and return "
            "what it printed, its errors and its exit code.",
            "parameters": {
                "type": "object",
                "properties": {"code": {"type": "string", "description": "The program; print the results."}},
                "required": ["code"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "calculator",
            "description": "Evaluate an arithmetic expression exactly: + - * / // % ** (or ^), parentheses, "
            "abs, sqrt, round, pi, e.",
            "parameters": {
                "type": "object",
                "properties": {"expression": {"type": "string", "description": "e.g. 123456 * 789"}},
                "required": ["expression"],
            },
        },
    },
]
SCHEMAS = tool_schemas(TOOLS)


def clip(text: str) -> str:
    return text if len(text) <= MAX_OUTPUT_CHARS else text[:MAX_OUTPUT_CHARS] + "\n[... output truncated]"


def python_result(result: RunResult) -> str:
    """stdout, then stderr, then how the program ended, as a policy reads it."""
    parts = []
    if result.stdout:
        parts.append(result.stdout.rstrip("\n"))
    if result.stderr:
        parts.append("stderr:\n" + result.stderr.rstrip("\n"))
    if result.status.value == "ok" and result.exit_code == 0:
        parts.append("(exit code 0)")
    elif result.status.value in ("timeout", "memory_limit", "output_limit", "sandbox_error"):
        parts.append(f"({result.status.value.replace('_', ' ')})")
    else:
        parts.append(f"(exit code {result.exit_code})")
    return clip("\n".join(parts))


def run_call(
    call: ToolCall,
    sandbox: Callable[[], Sandbox] | None,
    time_limit_s: float,
    memory_limit_mb: int,
) -> str:
    """The content of the tool message answering `call`."""
    problems = call_problems(call, SCHEMAS)
    if problems:
        return "error: " + "; ".join(problems)
    arguments = call.arguments or {}
    if call.name == "calculator":
        try:
            return calculate(arguments["expression"])
        except CalculatorError as exc:
            return f"error: {exc}"
        except Exception as exc:  # a calculator bug must not cost the other calls their results
            return f"error: the calculator failed ({type(exc).__name__})"
    code = arguments["code"]
    if len(code) > MAX_CODE_CHARS:
        return f"error: the code is longer than {MAX_CODE_CHARS} characters"
    if sandbox is None:
        return "error: this server has no sandbox for the python tool"
    try:
        result = sandbox().run(
            RunRequest(
                language="python", source=code, time_limit_s=time_limit_s, memory_limit_mb=memory_limit_mb
            )
        )
    except SandboxUnavailable as exc:
        return f"error: the sandbox is unavailable ({exc})"
    return python_result(result)
