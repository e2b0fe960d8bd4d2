"""The GitHub Action's logic (``action.yml`` runs ``python -m tagguard.integrations.gha run``).

Stdlib only (``urllib``).  Reads the workflow context from the usual variables
(``GITHUB_EVENT_NAME``, ``GITHUB_EVENT_PATH``, ``GITHUB_REPOSITORY``,
``GITHUB_API_URL``, ``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``) so tests can
point it at a server on 127.0.0.1.

``run``       scan (or ``tagguard diff`` against the base on pull requests, when
              this build has it), write annotations, job summary, JSON/SARIF/
              Markdown reports and step outputs, then update the PR comment;
              exits 0 and leaves the verdict in the ``exit-code`` output so the
              SARIF upload can run before the action fails.
``comment``   create or update the one PR comment carrying the hidden marker.
``approved``  whether the pull request carries the approval label.

Security (see SECURITY.md): the scanned checkout is untrusted.  ``action.yml`` gives
``GITHUB_TOKEN`` only to the step that runs ``comment``; ``run`` removes tokens from the
environment of the scan it starts and runs Python isolated (``-I``: the checkout's
directory is not on ``sys.path``, so a committed ``tagguard/`` package cannot shadow the
installed one); the comment updated in place must carry the marker at its start *and* be
written by ``github-actions[bot]`` (or the token's own user, or ``--comment-author``), so a
pull request author who pastes the marker into their own comment does not get it edited.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from collections.abc import Iterator

MARKER = "<!-- tagguard-report{suffix} -->"
DEFAULT_API = "https://api.github.com"
BOT_LOGIN = "github-actions[bot]"  # the author of comments made with a workflow's GITHUB_TOKEN
# Credentials the scan never needs: removed from the environment of the tagguard process.
SECRET_ENV = ("GITHUB_TOKEN", "GH_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN", "INPUT_GITHUB-TOKEN",
              "INPUT_GITHUB_TOKEN", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
              "ACTIONS_ID_TOKEN_REQUEST_URL")


class GithubError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(f"GitHub API {status}: {message}")
        self.status = status


# --- REST ---------------------------------------------------------------------

class Github:
    def __init__(self, token: str, repository: str, api_url: str | None = None, timeout: float = 30):
        self.token = token
        self.repository = repository
        self.api = (api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API).rstrip("/")
        self.timeout = timeout

    def request(self, method: str, url: str, body: dict | None = None) -> tuple[Any, dict[str, str]]:
        import urllib.error
        import urllib.request

        if not url.startswith("http"):
            url = self.api + url
        data = json.dumps(body).encode("utf-8") if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self.token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "tagguard-action",
            **({"Content-Type": "application/json"} if data is not None else {}),
        })
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
                headers = {k.lower(): v for k, v in resp.headers.items()}
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            try:
                detail = json.loads(detail).get("message", detail)
            except (ValueError, AttributeError):
                pass
            raise GithubError(exc.code, f"{method} {url}: {detail}") from None
        except urllib.error.URLError as exc:
            raise GithubError(0, f"{method} {url}: {exc.reason}") from None
        return (json.loads(raw) if raw else None), headers

    def paginate(self, path: str) -> Iterator[dict]:
        url: str | None = path + ("&" if "?" in path else "?") + "per_page=100"
        pages = 0
        while url and pages < 100:
            items, headers = self.request("GET", url)
            pages += 1
            yield from items or []
            url = _next_link(headers.get("link", ""))

    def issue_comments(self, number: int) -> Iterator[dict]:
        return self.paginate(f"/repos/{self.repository}/issues/{number}/comments")

    def create_comment(self, number: int, body: str) -> dict:
        return self.request("POST", f"/repos/{self.repository}/issues/{number}/comments", {"body": body})[0]

    def update_comment(self, comment_id: int, body: str) -> dict:
        return self.request("PATCH", f"/repos/{self.repository}/issues/comments/{comment_id}", {"body": body})[0]


def _next_link(header: str) -> str | None:
    for part in header.split(","):
        m = re.match(r'\s*<([^>]+)>\s*;\s*rel="?next"?', part)
        if m:
            return m.group(1)
    return None


def marker(comment_id: str = "") -> str:
    return MARKER.format(suffix=f" id={comment_id}" if comment_id else "")


def comment_authors(gh: Github | None = None, extra: str = "") -> list[str]:
    """Whose comments may be edited: ``github-actions[bot]``, any login in ``extra``
    (comma-separated, e.g. a GitHub App's ``name[bot]``) and, with ``gh``, the token's own
    user (a personal token; ``GET /user`` is refused for a workflow's ``GITHUB_TOKEN``)."""
    authors = [BOT_LOGIN] + [a.strip() for a in (extra or "").split(",") if a.strip()]
    if gh is not None:
        try:
            me, _ = gh.request("GET", "/user")
            login = me.get("login") if isinstance(me, dict) else None
            if login:
                authors.append(login)
        except GithubError:
            pass
    return authors


def _login(comment: dict[str, Any]) -> str:
    user = comment.get("user")
    return str(user.get("login") or "") if isinstance(user, dict) else ""


def upsert_comment(gh: Github, number: int, body: str, mode: str = "update", comment_id: str = "",
                   extra_authors: str = "") -> tuple[str, dict]:
    """Post the report; ``update`` edits, in place, the comment tagguard wrote before: the
    marker opens its body *and* its author is one tagguard posts as (``comment_authors``).  A
    comment anyone else wrote is never edited, whatever it contains."""
    tag = marker(comment_id)
    text = f"{tag}\n{body}"
    if mode == "update":
        authors = {a.lower() for a in comment_authors(None, extra_authors)}
        looked_up = False
        for comment in gh.issue_comments(number):
            if not (comment.get("body") or "").startswith(tag + "\n"):
                continue
            login = _login(comment).lower()
            if login not in authors and not looked_up:  # maybe the token's own user (a personal token)
                authors |= {a.lower() for a in comment_authors(gh)}
                looked_up = True
            if login in authors:
                return "updated", gh.update_comment(comment["id"], text)
    return "created", gh.create_comment(number, text)


# --- workflow context ---------------------------------------------------------

def load_event() -> dict[str, Any]:
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        warn(f"cannot read the event payload {path}: {exc}")
        return {}


def pull_request(event: dict[str, Any]) -> dict[str, Any]:
    pr = event.get("pull_request")
    return pr if isinstance(pr, dict) else {}


def pr_labels(event: dict[str, Any]) -> list[str]:
    return [lb.get("name", "") for lb in pull_request(event).get("labels") or [] if isinstance(lb, dict)]


def is_approved(event: dict[str, Any], label: str) -> bool:
    return bool(label) and label in pr_labels(event)


def set_outputs(values: dict[str, Any]) -> None:
    target = os.environ.get("GITHUB_OUTPUT")
    lines = []
    for key, value in values.items():
        text = "" if value is None else str(value)
        if "\n" in text:
            delim = "tagguard_EOF_" + os.urandom(6).hex()
            lines.append(f"{key}<<{delim}\n{text}\n{delim}\n")
        else:
            lines.append(f"{key}={text}\n")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.writelines(lines)
    else:
        sys.stdout.writelines(lines)


def warn(message: str) -> None:
    from tagguard.formats.github import escape_data

    print(f"::warning title=tagguard::{escape_data(message)}", flush=True)


# --- run ------------------------------------------------------------------------

def diff_base_option() -> str | None:
    """The option ``tagguard diff`` takes the base ref with, when this build has ``diff``."""
    try:
        import click

        from tagguard.cli import cli

        with click.Context(cli) as ctx:
            cmd = cli.get_command(ctx, "diff")
    except Exception:  # noqa: BLE001 - a broken optional command must not break the action
        return None
    if cmd is None:
        return None
    for param in cmd.params:
        if isinstance(param, click.Option) and param.name in ("base", "base_ref", "against", "base_rev"):
            return max(param.opts, key=len)
    return None


def diff_has_option(name: str) -> bool:
    """Whether this build's ``tagguard diff`` takes ``name`` (e.g. ``--head-config``)."""
    try:
        import click

        from tagguard.cli import cli

        with click.Context(cli) as ctx:
            cmd = cli.get_command(ctx, "diff")
    except Exception:  # noqa: BLE001
        return False
    return cmd is not None and any(isinstance(p, click.Option) and name in p.opts for p in cmd.params)


def scan_env(env: dict[str, str]) -> dict[str, str]:
    """The environment for the tagguard process: without credentials it never needs."""
    return {k: v for k, v in env.items() if k.upper() not in SECRET_ENV}


def count(report: dict[str, Any]) -> dict[str, Any]:
    summary = report.get("summary") or {}
    sev = summary.get("by_severity") or {}
    return {
        "findings": summary.get("findings", 0),
        "errors": sev.get("error", 0),
        "warnings": sev.get("warning", 0),
        "suppressed": summary.get("suppressed", 0),
        "blocking": summary.get("blocking", 0),
        "monthly-cost": summary.get("monthly_usd", ""),
        "monthly-cost-delta": cost_delta(report),
    }


def cost_delta(report: dict[str, Any]) -> Any:
    """``cost_diff.total_delta_monthly_usd`` (tagguard diff, plan scans), else empty."""
    diff = report.get("cost_diff")
    if isinstance(diff, dict) and isinstance(diff.get("total_delta_monthly_usd"), (int, float)):
        return diff["total_delta_monthly_usd"]
    return ""


def approver(gh: Github | None, event: dict[str, Any], label: str) -> str | None:
    """Who added the approval label: the event's sender for a ``labeled`` event, else the
    issue's label events (GitHub login), else ``label:<name>`` when nobody can be named."""
    if not is_approved(event, label):
        return None
    if event.get("action") == "labeled" and (event.get("label") or {}).get("name") == label:
        login = (event.get("sender") or {}).get("login")
        if login:
            return login
    number = pull_request(event).get("number") or event.get("number")
    if gh is not None and number:
        try:
            who = None
            for ev in gh.paginate(f"/repos/{gh.repository}/issues/{number}/events"):
                if ev.get("event") == "labeled" and (ev.get("label") or {}).get("name") == label:
                    who = (ev.get("actor") or {}).get("login") or who
            if who:
                return who
        except GithubError as exc:
            warn(f"cannot read who added the `{label}` label: {exc}")
    return f"label:{label}"


def run(args: argparse.Namespace) -> int:
    event = load_event()
    pr = pull_request(event)
    number = pr.get("number") or event.get("number")
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"json": out_dir / "tagguard.json", "sarif": out_dir / "tagguard.sarif",
             "markdown": out_dir / "tagguard.md"}
    token = args.token or os.environ.get("GITHUB_TOKEN", "")
    repository = os.environ.get("GITHUB_REPOSITORY", "")
    gh = Github(token, repository) if token and repository else None
    approved_by = approver(gh, event, args.approval_label)

    command = _subcommand(args, os.environ.get("GITHUB_EVENT_NAME", ""),
                          args.base_ref or (pr.get("base") or {}).get("sha") or "")
    if command is None:
        return 2
    env = scan_env(dict(os.environ))
    if approved_by:  # budgets.approved_by(): needs-approval findings are recorded as approved
        env["TAGGUARD_APPROVED_BY"] = approved_by
    cmd = _tagguard_argv(args, command, files)
    print(f"tagguard: running {' '.join(cmd[3:])}", flush=True)
    code = subprocess.run(cmd, env=env).returncode

    outputs: dict[str, Any] = {"exit-code": code, "approved": str(bool(approved_by)).lower(),
                               "approved-by": approved_by or "", "command": command[0]}
    outputs.update(_report_outputs(args, files))
    if args.comment_mode != "off" and number and files["markdown"].is_file():
        outputs.update(_comment(args, gh, number, files["markdown"], out_dir, approved_by))
    set_outputs(outputs)
    return code if args.exit_code else 0


def _subcommand(args: argparse.Namespace, event_name: str, base: str) -> list[str] | None:
    """``["scan"]``, or ``["diff", <base option>, base, ...]`` on a pull request (or when asked for)
    if this tagguard has ``diff``; None (after an error message) when ``diff`` has no base."""
    base_opt = None
    if args.command == "diff" or (args.command == "auto" and event_name.startswith("pull_request") and base):
        base_opt = diff_base_option()
        if base_opt is None:
            warn("this tagguard has no `diff` command; running `tagguard scan` instead")
        elif not base:
            print("tagguard.integrations.gha: error: `diff` needs a base ref (--base-ref, or a pull_request event)",
                  file=sys.stderr)
            return None
    if not base_opt:
        return ["scan"]
    command = ["diff", base_opt, base]
    # The config and taxonomy are the base revision's unless the workflow opts in to the head's
    if args.head_config:
        if diff_has_option("--head-config"):
            command.append("--head-config")
        else:
            warn("this tagguard's `diff` has no --head-config; the config is read as it decides")
    return command


def _tagguard_argv(args: argparse.Namespace, command: list[str], files: dict[str, Path]) -> list[str]:
    """The tagguard process's command line: one run writes every report (scan and diff take the
    same output options).  -I: the checkout (the working directory) is not on sys.path and
    PYTHON* variables are ignored."""
    common = []
    if args.config:
        common += ["--config", args.config]
    if args.fail_on:
        common += ["--fail-on", args.fail_on]
    cmd = [sys.executable, "-I", "-m", "tagguard", *command, *common]
    if args.baseline:
        if command[0] == "diff":
            warn("the baseline applies to `tagguard scan`; "
                 "`tagguard diff` already reports only new and changed resources")
        else:
            cmd += ["--baseline", args.baseline]
    cmd += ["-f", "json", "-o", str(files["json"]), "-f", "markdown", "-o", str(files["markdown"])]
    if args.sarif:
        cmd += ["-f", "sarif", "-o", str(files["sarif"])]
    cmd += ["-f", "github", *list(args.extra_args or [])]  # annotations to the log; github writes the job summary
    cmd += ["--", *args.paths]  # paths are never read as options
    return cmd


def _report_outputs(args: argparse.Namespace, files: dict[str, Path]) -> dict[str, Any]:
    """The step outputs of the reports written: their paths and the JSON report's counts."""
    outputs: dict[str, Any] = {"markdown-report": "", "json-report": "", "sarif-file": ""}
    report: dict[str, Any] = {}
    if files["json"].is_file():
        try:
            report = json.loads(files["json"].read_text(encoding="utf-8"))
            outputs["json-report"] = str(files["json"])
        except ValueError as exc:
            warn(f"unreadable JSON report {files['json']}: {exc}")
    if files["markdown"].is_file():
        outputs["markdown-report"] = str(files["markdown"])
    if args.sarif and files["sarif"].is_file():
        outputs["sarif-file"] = str(files["sarif"])
    if report:
        outputs.update(count(report))
    return outputs


def _comment(args: argparse.Namespace, gh: Github | None, number: Any, markdown: Path, out_dir: Path,
             approved_by: str | None) -> dict[str, Any]:
    """The pull request comment: its body written to a file (the output ``comment-body``), then
    posted or updated unless a later step posts it; a refused write is a warning."""
    from tagguard.formats.escape import md_code, md_text

    body = markdown.read_text(encoding="utf-8")
    if approved_by:
        body += (f"\n> The {md_code(args.approval_label, cell=False)} label is set (approver: "
                 f"{md_text(approved_by)}): changes over the approval threshold are recorded as approved.\n")
    comment_file = out_dir / "tagguard-comment.md"
    comment_file.write_text(body, encoding="utf-8")
    outputs: dict[str, Any] = {"comment-body": str(comment_file)}
    if args.defer_comment:  # action.yml: the next step, the only one with the token, posts it
        return outputs
    if gh is None:
        warn("no GITHUB_TOKEN or GITHUB_REPOSITORY: the pull request comment was skipped")
        return outputs
    try:
        action, comment = upsert_comment(gh, int(number), body, args.comment_mode, args.comment_id, args.comment_author)
        outputs["comment-url"] = (comment or {}).get("html_url", "")
        print(f"tagguard: {action} pull request comment {outputs['comment-url']}".rstrip(), flush=True)
    except GithubError as exc:
        hint = " (a pull request from a fork gets a read-only token)" if exc.status in (403, 404) else ""
        warn(f"cannot write the pull request comment: {exc}{hint}")
    return outputs


def _bool(text: str) -> bool:
    return str(text).strip().lower() in ("1", "true", "yes", "on")


def main(argv: list[str] | None = None) -> int:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m tagguard.integrations.gha", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("run", help="scan or diff, write reports and outputs, update the PR comment")
    p.add_argument("paths", nargs="*", help="paths to scan (default: the TAGGUARD_PATHS variable, else .)")
    p.add_argument("--config", default=env("TAGGUARD_CONFIG", ""), help="tagguard config file")
    p.add_argument("--command", default=env("TAGGUARD_COMMAND") or "auto", choices=["auto", "scan", "diff"],
                   help="auto: `diff` against the base on pull requests when available, `scan` otherwise")
    p.add_argument("--base-ref", default=env("TAGGUARD_BASE_REF", ""),
                   help="base ref for `tagguard diff` (default: the PR base)")
    p.add_argument("--fail-on", default=env("TAGGUARD_FAIL_ON", ""), choices=["", "error", "warning", "info"],
                   help="lowest blocking severity")
    p.add_argument("--baseline", default=env("TAGGUARD_BASELINE", ""), help="baseline file")
    p.add_argument("--approval-label", default=env("TAGGUARD_APPROVAL_LABEL", ""),
                   help="PR label that lets budget findings through")
    p.add_argument("--comment-mode", default=env("TAGGUARD_COMMENT_MODE", "update"), choices=["update", "new", "off"],
                   help="update one comment in place, post a new one each run, or none")
    p.add_argument("--comment-id", default=env("TAGGUARD_COMMENT_ID", ""),
                   help="distinguishes the comments of several tagguard jobs on one PR")
    p.add_argument("--sarif", default=_bool(env("TAGGUARD_SARIF", "true")), type=_bool,
                   help="write a SARIF file (true/false)")
    p.add_argument("--output-dir",
                   default=env("TAGGUARD_OUTPUT_DIR") or os.path.join(env("RUNNER_TEMP") or ".", "tagguard"),
                   help="where reports are written")
    p.add_argument("--token", default="", help="GitHub token (default: GITHUB_TOKEN)")
    p.add_argument("--exit-code", action="store_true", help="exit with tagguard's exit code instead of 0")
    p.add_argument("--head-config", default=_bool(env("TAGGUARD_HEAD_CONFIG", "false")), type=_bool,
                   help="`diff` judges with the pull request's own config and taxonomy (default: the base's)")
    p.add_argument("--defer-comment", default=_bool(env("TAGGUARD_DEFER_COMMENT", "false")), type=_bool,
                   help="write the comment body (output comment-body) and leave posting it to `comment`")
    p.add_argument("--comment-author", default=env("TAGGUARD_COMMENT_AUTHOR", ""),
                   help="more logins whose marked comment may be updated "
                        "(default: github-actions[bot] and the token's user)")
    p.add_argument("--extra-args", nargs=argparse.REMAINDER, help="more arguments for tagguard")

    c = sub.add_parser("comment", help="create or update the PR comment from a Markdown file")
    c.add_argument("--body-file", required=True, type=Path)
    c.add_argument("--number", type=int, default=None, help="PR number (default: from the event payload)")
    c.add_argument("--mode", default=env("TAGGUARD_COMMENT_MODE") or "update", choices=["update", "new", "off"])
    c.add_argument("--comment-id", default=env("TAGGUARD_COMMENT_ID", ""))
    c.add_argument("--comment-author", default=env("TAGGUARD_COMMENT_AUTHOR", ""),
                   help="more logins whose marked comment may be updated")
    c.add_argument("--warn-only", action="store_true",
                   help="a refused comment (a fork's read-only token) is a warning and exit 0, not an error")

    a = sub.add_parser("approved",
                       help="print who approved with LABEL (empty and exit 1 when the PR does not carry it)")
    a.add_argument("label")

    args = parser.parse_args(argv)
    if args.cmd == "run":
        if not args.paths:
            args.paths = (env("TAGGUARD_PATHS") or ".").split()
        return run(args)
    if args.cmd == "comment":
        event = load_event()
        number = args.number or pull_request(event).get("number") or event.get("number")
        if args.mode == "off":
            return 0
        if not number:
            print("tagguard.integrations.gha: error: not a pull request (no number in the event payload); "
                  "pass --number", file=sys.stderr)
            return 2
        gh = Github(os.environ.get("GITHUB_TOKEN", ""), os.environ.get("GITHUB_REPOSITORY", ""))
        try:
            action, comment = upsert_comment(gh, int(number), args.body_file.read_text(encoding="utf-8"), args.mode,
                                             args.comment_id, args.comment_author)
        except (GithubError, OSError) as exc:
            if args.warn_only:
                hint = (" (a pull request from a fork gets a read-only token)"
                        if getattr(exc, "status", 0) in (403, 404) else "")
                warn(f"cannot write the pull request comment: {exc}{hint}")
                return 0
            print(f"tagguard.integrations.gha: error: {exc}", file=sys.stderr)
            return 2
        print(f"{action} {comment.get('html_url', '')}".rstrip())
        if os.environ.get("GITHUB_OUTPUT"):
            set_outputs({"comment-url": (comment or {}).get("html_url", "")})
        return 0
    token, repository = os.environ.get("GITHUB_TOKEN", ""), os.environ.get("GITHUB_REPOSITORY", "")
    who = approver(Github(token, repository) if token and repository else None, load_event(), args.label)
    print(who or "")
    return 0 if who else 1


if __name__ == "__main__":
    sys.exit(main())
