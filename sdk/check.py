"""`make sdk-check`: the SDKs five generators make from openapi.json, used as their users would.

For each generator, with its default options:
1. generate a client from the committed openapi.json;
2. type-check a natural user program (sdk/programs/) under mypy --strict or tsc --strict, and a
   program written from the spec that calls every operation with the spec's own example;
3. run both against a live server started here on 127.0.0.1: the user program asserts its
   answers; each call's answer is compared with the same request sent by plain HTTP.

The tools are installed once into build/sdk-tools (pinned: sdk/requirements.txt, sdk/package.json
and its lock) and reused while those files are unchanged; the generated clients go to build/sdk.
Prints a markdown table; exits 1 if any generator falls short, 2 if a tool cannot be installed.

    python sdk/check.py [--only opc,ogpy,ogts,heyapi,oats] [--keep-going]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
SDK = ROOT / "sdk"
TOOLS = ROOT / "build" / "sdk-tools"
WORK = ROOT / "build" / "sdk"
SPEC = ROOT / "openapi.json"
TOOL_PYTHON = TOOLS / "py" / "bin" / "python"
NODE_BIN = TOOLS / "node_modules" / ".bin"
GENERATORS = ("opc", "ogpy", "ogts", "heyapi", "oats")
TITLES = {
    "opc": "openapi-python-client",
    "ogpy": "openapi-generator `-g python`",
    "ogts": "openapi-generator `-g typescript-fetch`",
    "heyapi": "@hey-api/openapi-ts",
    "oats": "openapi-typescript + openapi-fetch",
}


class ToolError(Exception):
    """A tool could not be installed or run: the check cannot say anything."""


def run(command: Sequence[str | Path], *, cwd: Path = WORK, timeout: float = 600) -> str:
    """Run a command; its output (stdout and stderr), raising ToolError if it fails."""
    completed = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        raise ToolError(f"{' '.join(map(str, command[:3]))} ... failed:\n{output[-3000:]}")
    return output


def _digest(*paths: Path) -> str:
    return hashlib.sha256(b"".join(path.read_bytes() for path in paths)).hexdigest()


def install_tools() -> None:
    """The generators, mypy and tsc, pinned, in build/sdk-tools; reused while the pins hold."""
    stamp = TOOLS / ".installed"
    pins = (SDK / "requirements.txt", SDK / "package.json", SDK / "package-lock.json")
    if stamp.exists() and stamp.read_text() == _digest(*pins):
        return
    if shutil.which("java") is None:
        run(["bash", ROOT / "deploy" / "ensure-debian-packages.sh", "java=default-jre-headless"])
    if shutil.which("npm") is None:
        raise ToolError("npm is needed for the TypeScript generators (Node.js 20 or newer)")
    print("installing the SDK tools into build/sdk-tools (once)", file=sys.stderr)
    TOOLS.mkdir(parents=True, exist_ok=True)
    if not TOOL_PYTHON.exists():
        run([sys.executable, "-m", "venv", TOOLS / "py"], cwd=ROOT)
    pip: list[str | Path] = [
        TOOL_PYTHON,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]
    run([*pip, "--require-hashes", "-r", SDK / "requirements.txt"], cwd=ROOT)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(SDK / name, TOOLS / name)
    run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TOOLS)
    stamp.write_text(_digest(*pins))


# The spec's operations, as the calls programs need them.


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    tag: str
    schema: str | None  # the request body's component, None for a GET
    example: Any
    path_params: dict[str, str] = field(default_factory=dict)

    def generator_model(self, schema: str) -> str:
        """openapi-generator's name for the body's model, `schema` in the spec: compute_loss's
        body, any loss's request, is a model of its own there."""
        return "ComputeLossRequest" if self.operation_id == "compute_loss" else schema

    @property
    def url(self) -> str:
        return self.path.format(**self.path_params)


def operations(spec: dict[str, Any]) -> list[Operation]:
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            params = {"name": "huber"} if "{name}" in path else {}
            schema = example = None
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if content is not None:
                example = content["example"]
                ref = content["schema"].get("$ref")
                # compute_loss takes any loss's request: it gets huber's, by name.
                schema = ref.rsplit("/", 1)[1] if ref else "HuberRequest"
            found.append(
                Operation(
                    operation["operationId"],
                    method,
                    path,
                    operation["tags"][0],
                    schema,
                    example,
                    params,
                )
            )
    return found


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def literal(value: Any) -> str:
    """A JSON value as a TypeScript literal: its JSON text."""
    return json.dumps(value)


def py_literal(value: Any) -> str:
    """A JSON value as a Python literal: the repr of what json.loads made of it."""
    return repr(value)


# What each call reports, one JSON line per operation: {"op", "status", "summary"}. The summary is
# the answer's telling field: the loss value (total for evaluate), the catalogue's length, the
# entry's name, the probe's status, or the first bytes of a picture or the metrics.

PY_SUMMARY = """
def summary(parsed: object, content: bytes) -> object:
    value = getattr(parsed, "value", None)
    total = getattr(parsed, "total", None)
    if total is not None:
        return getattr(total, "value", None)
    if hasattr(parsed, "loss"):
        return value
    losses = getattr(parsed, "losses", None)
    if isinstance(losses, list):
        return len(losses)
    for name in ("name", "status"):
        if hasattr(parsed, name):
            return getattr(parsed, name)
    return content[:4].decode("ascii", "replace")


def report(op: str, status: int, parsed: object, content: bytes) -> None:
    print(json.dumps({"op": op, "status": status, "summary": summary(parsed, content)}))
"""

TS_MAIN = """main(process.argv[2]).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});"""

TS_SUMMARY = """
function summary(parsed: unknown, text: string): unknown {
  if (parsed !== null && typeof parsed === "object") {
    const answer = parsed as Record<string, unknown>;
    if ("total" in answer) return (answer.total as Record<string, unknown>).value;
    if ("loss" in answer) return answer.value;
    if (Array.isArray(answer.losses)) return answer.losses.length;
    if ("name" in answer) return answer.name;
    if ("status" in answer) return answer.status;
  }
  return text.slice(0, 4);
}

function report(op: string, status: number, parsed: unknown, text: string): void {
  console.log(JSON.stringify({ op, status, summary: summary(parsed, text) }));
}
"""


def opc_calls(ops: list[Operation]) -> str:
    imports, body = [], []
    for op in ops:
        module = snake(op.operation_id)
        imports.append(f"from loss_service_client.api.{op.tag} import {module}")
        args = ["client=client"] + [f"{k}={py_literal(v)}" for k, v in op.path_params.items()]
        if op.schema:
            imports.append(f"from loss_service_client.models import {op.schema}")
            args.append(f"body={op.schema}.from_dict({py_literal(op.example)})")
        answer = f"{op.operation_id}_answer"
        body.append(
            f"{answer} = {module}.sync_detailed({', '.join(args)})\n"
            f"report({op.operation_id!r}, int({answer}.status_code), {answer}.parsed, "
            f"{answer}.content)"
        )
    return "\n".join(
        [
            '"""Every operation, with the spec\'s example, through the generated client."""',
            "import json",
            "import sys",
            "",
            "from loss_service_client.client import Client",
            *sorted(set(imports)),
            PY_SUMMARY,
            "client = Client(base_url=sys.argv[1])",
            *body,
        ]
    )


def ogpy_calls(ops: list[Operation]) -> str:
    imports, body = {"ApiClient", "Configuration"}, []
    for op in ops:
        api = f"{pascal(op.tag)}Api"
        imports.add(api)
        args = [f"{k}={py_literal(v)}" for k, v in op.path_params.items()]
        if op.schema:
            model = op.generator_model(op.schema)
            imports.add(model)
            request = f"{op.operation_id}_request"
            body.append(f"{request} = {model}.from_dict({py_literal(op.example)})")
            body.append(f"assert {request} is not None")
            args.append(f"{snake(model)}={request}")
        answer = f"{op.operation_id}_answer"
        body.append(
            f"{answer} = {api}(api).{op.operation_id}_with_http_info({', '.join(args)})\n"
            f"report({op.operation_id!r}, {answer}.status_code, {answer}.data, {answer}.raw_data)"
        )
    return "\n".join(
        [
            '"""Every operation, with the spec\'s example, through the generated client."""',
            "import json",
            "import sys",
            "",
            f"from loss_client import {', '.join(sorted(imports))}",
            PY_SUMMARY,
            "api = ApiClient(Configuration(host=sys.argv[1]))",
            *body,
        ]
    )


def ogts_calls(ops: list[Operation]) -> str:
    apis, models, body = set(), set(), []
    for op in ops:
        api = f"{pascal(op.tag)}Api"
        apis.add(api)
        params = [f"{camel(k)}: {literal(v)}" for k, v in op.path_params.items()]
        if op.schema:
            model = op.generator_model(op.schema)
            models.add(f"{model}FromJSON")
            params.append(
                f"{model[:1].lower() + model[1:]}: {model}FromJSON({literal(op.example)})"
            )
        call = f"new {api}(configuration).{camel(op.operation_id)}Raw({{ {', '.join(params)} }})"
        if not params:
            call = f"new {api}(configuration).{camel(op.operation_id)}Raw()"
        body.append(
            f"  {{\n    const answer = await {call};\n"
            "    const text = await answer.raw.clone().text();\n"
            "    const json = answer.raw.headers.get('content-type')?.includes('json');\n"
            "    const parsed = json ? await answer.value() : null;\n"
            f"    report({literal(op.operation_id)}, answer.raw.status, parsed, text);\n  }}"
        )
    return "\n".join(
        [
            "// Every operation, with the spec's example, through the generated client.",
            f'import {{ Configuration, {", ".join(sorted(apis | models))} }} from "./ogts/index";',
            TS_SUMMARY,
            "async function main(base: string): Promise<void> {",
            "  const configuration = new Configuration({ basePath: base });",
            *body,
            "}",
            TS_MAIN,
        ]
    )


def heyapi_calls(ops: list[Operation]) -> str:
    functions, body = set(), []
    for op in ops:
        function = camel(op.operation_id)
        functions.add(function)
        options = []
        if op.path_params:
            options.append(f"path: {literal(op.path_params)}")
        if op.schema:
            options.append(f"body: {literal(op.example)}")
        if op.operation_id in ("plot_loss", "metrics"):
            options.append('parseAs: "text"')
        arguments = "{ " + ", ".join(options) + " }" if options else ""
        body.append(
            f"  {{\n    const answer = await {function}({arguments});\n"
            "    const parsed = answer.data ?? answer.error;\n"
            "    const text = typeof parsed === 'string' ? parsed : '';\n"
            f"    const status = answer.response?.status ?? 0;\n"
            f"    report({literal(op.operation_id)}, status, parsed, text);\n  }}"
        )
    return "\n".join(
        [
            "// Every operation, with the spec's example, through the generated client.",
            'import { client } from "./heyapi/client.gen";',
            f'import {{ {", ".join(sorted(functions))} }} from "./heyapi/sdk.gen";',
            TS_SUMMARY,
            "async function main(base: string): Promise<void> {",
            "  client.setConfig({ baseUrl: base });",
            *body,
            "}",
            TS_MAIN,
        ]
    )


def oats_calls(ops: list[Operation]) -> str:
    body = []
    for op in ops:
        options = []
        if op.path_params:
            options.append(f"params: {{ path: {literal(op.path_params)} }}")
        if op.schema:
            options.append(f"body: {literal(op.example)}")
        if op.operation_id in ("plot_loss", "metrics"):
            options.append('parseAs: "text"')
        arguments = literal(op.path) + (", { " + ", ".join(options) + " }" if options else "")
        body.append(
            f"  {{\n    const answer = await client.{op.method.upper()}({arguments});\n"
            "    const parsed: unknown = answer.data ?? answer.error;\n"
            "    const text = typeof parsed === 'string' ? parsed : '';\n"
            f"    report({literal(op.operation_id)}, answer.response.status, parsed, text);\n  }}"
        )
    return "\n".join(
        [
            "// Every operation, with the spec's example, through openapi-fetch.",
            'import createClient from "openapi-fetch";',
            'import type { paths } from "./oats/schema";',
            TS_SUMMARY,
            "async function main(base: string): Promise<void> {",
            "  const client = createClient<paths>({ baseUrl: base });",
            *body,
            "}",
            TS_MAIN,
        ]
    )


# Generating, checking and running, per generator.


@dataclass
class Result:
    generator: str
    generated: bool = False
    type_errors: int | None = None
    program_ok: bool = False
    calls_right: int = 0
    calls: int = 0
    generated_code_errors: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            self.generated
            and self.type_errors == 0
            and self.program_ok
            and self.calls > 0
            and self.calls_right == self.calls
        )


def mypy_errors(output: str) -> int:
    found = re.search(r"Found (\d+) errors?", output)
    return int(found[1]) if found else 0


def tsc_errors(output: str) -> int:
    return len(re.findall(r"error TS\d+", output))


def checked(command: Sequence[str | Path]) -> str:
    """Output of a type checker, which exits non-zero when it finds errors."""
    completed = subprocess.run(
        [str(part) for part in command], cwd=WORK, capture_output=True, text=True, check=False
    )
    return completed.stdout + completed.stderr


def generate(generator: str, spec: Path) -> None:
    """The generator's client from `spec`: the Python ones installed as packages, as users have
    them; the TypeScript ones as sources beside the programs."""
    target = WORK / generator
    shutil.rmtree(target, ignore_errors=True)
    openapi_generator = TOOLS / "py" / "bin" / "openapi-generator-cli"
    package: Path | None = None
    if generator == "opc":
        package = WORK / "opc-package"
        client = TOOLS / "py" / "bin" / "openapi-python-client"
        run([client, "generate", "--path", spec, "--output-path", package, "--meta", "setup",
             "--overwrite"])  # fmt: skip
    elif generator == "ogpy":
        package = WORK / "ogpy-package"
        run([openapi_generator, "generate", "-i", spec, "-g", "python", "-o", package,
             "--package-name", "loss_client"])  # fmt: skip
    elif generator == "ogts":
        run([openapi_generator, "generate", "-i", spec, "-g", "typescript-fetch", "-o", target])
    elif generator == "heyapi":
        run([NODE_BIN / "openapi-ts", "-i", spec, "-o", target])
    else:
        run([NODE_BIN / "openapi-typescript", spec, "-o", target / "schema.d.ts"])
    if package is not None:
        run([TOOL_PYTHON, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall",
             package])  # fmt: skip


CALLS: dict[str, Callable[[list[Operation]], str]] = {
    "opc": opc_calls,
    "ogpy": ogpy_calls,
    "ogts": ogts_calls,
    "heyapi": heyapi_calls,
    "oats": oats_calls,
}


def type_check(generator: str, *files: str) -> int:
    if generator in ("opc", "ogpy"):
        # The installed package, as a user has it: mypy checks the calls into it, not its inside.
        return mypy_errors(checked([TOOL_PYTHON, "-m", "mypy", "--strict", *files]))
    tsconfig = json.loads((SDK / "programs" / "tsconfig.json").read_text())
    tsconfig["files"] = list(files)
    tsconfig["compilerOptions"]["outDir"] = f"out/{generator}"
    (WORK / f"tsconfig.{generator}.json").write_text(json.dumps(tsconfig))
    return tsc_errors(checked([NODE_BIN / "tsc", "-p", f"tsconfig.{generator}.json"]))


def execute(generator: str, program: str, base: str) -> subprocess.CompletedProcess[str]:
    if generator in ("opc", "ogpy"):
        command = [str(TOOL_PYTHON), program, base]
    else:
        command = ["node", f"out/{generator}/{Path(program).with_suffix('.js').name}", base]
    return subprocess.run(
        command, cwd=WORK, capture_output=True, text=True, timeout=120, check=False
    )


def generated_code_errors(generator: str) -> int | None:
    """Type errors inside the generated package itself (for the record; users do not see them)."""
    packages = {"opc": "opc-package/loss_service_client", "ogpy": "ogpy-package/loss_client"}
    if generator in packages:
        return mypy_errors(checked([TOOL_PYTHON, "-m", "mypy", "--strict", packages[generator]]))
    return None  # compiled together with the programs: counted in their type errors


def expected(ops: list[Operation], base: str) -> dict[str, tuple[int, object]]:
    """Each operation's answer by plain HTTP: status and telling field."""
    answers = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        for op in ops:
            response = client.request(op.method.upper(), op.url, json=op.example)
            try:
                parsed = response.json()
            except ValueError:
                parsed = None
            summary: object
            if isinstance(parsed, dict) and "total" in parsed:
                summary = parsed["total"]["value"]
            elif isinstance(parsed, dict) and "loss" in parsed:
                summary = parsed["value"]
            elif isinstance(parsed, dict) and isinstance(parsed.get("losses"), list):
                summary = len(parsed["losses"])
            elif isinstance(parsed, dict):
                summary = parsed.get("name", parsed.get("status"))
            else:
                summary = response.content[:4].decode("ascii", "replace")
            answers[op.operation_id] = (response.status_code, summary)
    return answers


def check(
    generator: str,
    ops: list[Operation],
    base: str,
    truth: dict[str, tuple[int, object]],
    spec: Path,
) -> Result:
    result = Result(generator)
    generate(generator, spec)
    result.generated = True
    suffix = ".py" if generator in ("opc", "ogpy") else ".ts"
    program = f"{generator}{suffix}"
    calls = f"{generator}_calls{suffix}"
    shutil.copy(SDK / "programs" / program, WORK / program)
    (WORK / calls).write_text(CALLS[generator](ops) + "\n")
    result.type_errors = type_check(generator, program, calls)
    if result.type_errors:
        result.notes.append(
            f"type errors: see {'mypy' if suffix == '.py' else 'tsc'} on build/sdk/{program}"
        )
        if suffix == ".ts":
            return result
    ran = execute(generator, program, base)
    result.program_ok = ran.returncode == 0 and "all good" in ran.stdout
    if not result.program_ok:
        result.notes.append(f"user program: {(ran.stdout + ran.stderr).strip()[-400:]}")
    answered = execute(generator, calls, base)
    got = {}
    for line in answered.stdout.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            got[entry["op"]] = (entry["status"], entry["summary"])
    result.calls = len(ops)
    for op in ops:
        if got.get(op.operation_id) == truth[op.operation_id]:
            result.calls_right += 1
        else:
            wanted = truth[op.operation_id]
            result.notes.append(
                f"{op.operation_id}: got {got.get(op.operation_id)}, expected {wanted}"
            )
    if answered.returncode != 0:
        result.notes.append(f"calls: {answered.stderr.strip()[-400:]}")
    result.generated_code_errors = generated_code_errors(generator)
    return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def live_server() -> Iterator[str]:
    """`loss-service serve` on 127.0.0.1 and a free port, stopped on the way out."""
    port = free_port()
    environment = {
        **os.environ,
        "LOSS_SERVICE_PORT": str(port),
        "LOSS_SERVICE_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/livez", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise ToolError("the service did not start")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def table(results: list[Result]) -> str:
    lines = [
        "| generator | user program: type errors | user program runs | every operation right "
        "| errors inside the generated package |",
        "|---|---:|---|---:|---:|",
    ]
    for r in results:
        inside = "-" if r.generated_code_errors is None else str(r.generated_code_errors)
        lines.append(
            f"| {TITLES[r.generator]} | {r.type_errors if r.type_errors is not None else '-'} | "
            f"{'yes' if r.program_ok else 'no'} | {r.calls_right}/{r.calls} | {inside} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(GENERATORS), help="generators, comma-separated")
    parser.add_argument("--spec", type=Path, default=SPEC, help="the spec (default openapi.json)")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - set(GENERATORS)
    if unknown:
        parser.error(
            f"unknown generator(s): {', '.join(sorted(unknown))}; known: {', '.join(GENERATORS)}"
        )
    try:
        install_tools()
        WORK.mkdir(parents=True, exist_ok=True)
        link = WORK / "node_modules"
        if not link.exists():
            link.symlink_to(TOOLS / "node_modules")
        ops = operations(json.loads(args.spec.read_text()))
        results = []
        started = time.monotonic()
        with live_server() as base:
            truth = expected(ops, base)
            for generator in chosen:
                results.append(check(generator, ops, base, truth, args.spec.resolve()))
    except ToolError as error:
        print(f"sdk-check: {error}", file=sys.stderr)
        return 2
    print(table(results))
    print(f"\n{len(ops)} operations; {time.monotonic() - started:.0f} s")
    for r in results:
        for note in r.notes[:12]:
            print(f"- {r.generator}: {note}")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
