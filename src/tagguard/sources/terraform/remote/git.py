"""Git module sources over HTTPS: a shallow clone of one ref, without hooks, submodules, tags,
symbolic links or redirects, with every protocol but https (http only to loopback) disabled."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from tagguard.sources.terraform.remote.http import FetchError, check_url, is_loopback

TIMEOUT = 300.0
MAX_TREE_BYTES = 512 << 20
_SHA = re.compile(r"^[0-9a-f]{7,64}$")


def git_config(url: str):
    loopback_http = urlsplit(url).scheme == "http" and is_loopback(urlsplit(url).hostname or "")
    conf = ["-c", "core.hooksPath=/dev/null", "-c", "protocol.allow=never", "-c", "protocol.https.allow=always",
            "-c", "protocol.file.allow=never", "-c", "protocol.ext.allow=never",
            "-c", f"protocol.http.allow={'always' if loopback_http else 'never'}",
            "-c", "http.followRedirects=false", "-c", "submodule.recurse=false", "-c", "core.symlinks=false",
            "-c", "core.fsmonitor=false", "-c", "credential.interactive=false"]
    return conf


def clone(url: str, ref: str | None, dest: Path, allowed, log: Callable[[str], None],
          git_bin: str = "git") -> str:
    """Clone ``url`` at ``ref`` (branch, tag or commit; None: the default branch) into ``dest``;
    returns the commit checked out."""
    check_url(url, allowed)
    if ref is not None and (ref.startswith("-") or not ref.strip()):
        raise FetchError(f"git ref {ref[:100]!r} is not a ref")
    if shutil.which(git_bin) is None:
        raise FetchError("git is not installed (needed for git module sources)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_LFS_SKIP_SMUDGE": "1",
                "GIT_ALLOW_PROTOCOL": "https:http" if urlsplit(url).scheme == "http" else "https"})
    if is_loopback(urlsplit(url).hostname or ""):
        env["NO_PROXY"] = env["no_proxy"] = ",".join(filter(None, [env.get("no_proxy"), urlsplit(url).hostname]))
    conf = git_config(url)

    def run(*args: str, cwd: Path | None = None) -> str:
        try:
            proc = subprocess.run([git_bin, *conf, *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise FetchError(f"git {args[0]} of {url[:200]} took longer than {int(TIMEOUT)} s") from None
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            last = (err[-1] if err else "exit " + str(proc.returncode))[:300]
            raise FetchError(f"git {args[0]} of {url[:200]} failed: {last}")
        return proc.stdout.decode("utf-8", "replace").strip()

    log(f"git clone {url}" + (f" (ref {ref})" if ref else ""))
    if ref is not None and _SHA.match(ref) and len(ref) == 40:
        run("init", "-q", str(dest))
        run("fetch", "-q", "--depth", "1", "--no-tags", "--", url, ref, cwd=dest)
        run("checkout", "-q", "--detach", "FETCH_HEAD", cwd=dest)
    else:
        args = ["clone", "-q", "--depth", "1", "--no-tags", "--single-branch", "--no-recurse-submodules"]
        if ref:
            args += ["--branch", ref]
        run(*args, "--", url, str(dest))
    commit = run("rev-parse", "HEAD", cwd=dest)
    shutil.rmtree(dest / ".git", ignore_errors=True)
    total = 0
    for root, _dirs, files in os.walk(dest):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
        if total > MAX_TREE_BYTES:
            raise FetchError(f"{url[:200]} is larger than {MAX_TREE_BYTES >> 20} MiB; not used")
    return commit
