"""Which AWS accounts and regions a drift scan covers, and how to get credentials for each.

* default: the ambient credentials (environment, ``AWS_PROFILE``, instance role), one account;
* ``--profile a,b``: one named profile per account;
* ``--accounts 111,222 --role-name R``: assume ``arn:aws:iam::<id>:role/R`` in each account
  (the caller's own account is scanned with the caller's credentials);
* ``--org --role-name R``: every ACTIVE account that Organizations lists, same role.

Roles are assumed lazily inside the worker that scans the account, so one account whose
role cannot be assumed is an entry in ``ScanResult.errors`` and the others still complete.
"""
from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

# Adaptive client-side rate limiting plus up to 10 attempts: what the AWS SDK guide
# recommends for bursty fan-out against throttled Describe/List APIs.
DEFAULT_MAX_ATTEMPTS = 10


class CallCounter:
    """Counts AWS API calls (``service.Operation``) across threads via botocore's ``after-call`` event."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter = Counter()

    def __call__(self, model=None, **_: Any) -> None:
        if model is None:
            return
        name = f"{model.service_model.service_name}.{model.name}"
        with self._lock:
            self.calls[name] += 1

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self.calls.items()))


def client_config(max_attempts: int = DEFAULT_MAX_ATTEMPTS, region: str | None = None):
    from botocore.config import Config

    return Config(region_name=region, retries={"mode": "adaptive", "max_attempts": max_attempts},
                  max_pool_connections=10, connect_timeout=10, read_timeout=60,
                  user_agent_extra="tagguard-drift")


@dataclass
class Account:
    """One account to scan; ``session()`` yields a boto3 session for it (assuming a role if needed)."""

    account_id: str
    label: str  # profile name, account name or id, for messages
    make_session: Callable[[], Any]
    _session: Any = None
    _error: dict[str, Any] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def session(self):
        """The account's boto3 session, created once; raises ``AccountError`` if it cannot be had."""
        with self._lock:
            if self._error is not None:
                raise AccountError(self._error)
            if self._session is None:
                try:
                    self._session = self.make_session()
                except AccountError as exc:
                    self._error = exc.info
                    raise
        return self._session


class AccountError(Exception):
    def __init__(self, info: dict[str, Any]):
        super().__init__(info.get("message"))
        self.info = info


def error_info(exc: BaseException) -> dict[str, str]:
    """``{"code": ..., "message": ...}`` for a botocore/boto3 exception, one line."""
    code = type(exc).__name__
    message = str(exc)
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error") or {}
        code = err.get("Code") or code
        message = err.get("Message") or message
    return {"code": str(code), "message": " ".join(str(message).split())[:500]}


def _new_session(counter: CallCounter | None, **kwargs):
    import boto3

    session = boto3.Session(**kwargs)
    if counter is not None:
        session.events.register("after-call", counter)
    return session


class SharedSession:
    """Clients for one account built from a shared boto3 session (one model cache for all accounts).

    A boto3 ``Session`` per assumed role would load every service model again (tens of MB each
    for EC2): with 50 accounts that is gigabytes.  Clients from one session with explicit
    credentials share the loaded models; creation is serialised (boto3 sessions are not
    thread-safe), the clients themselves are used concurrently.
    """

    _lock = threading.Lock()

    def __init__(self, base, credentials: dict[str, str] | None = None):
        self.base = base
        self.credentials = credentials or {}

    @property
    def region_name(self):
        return self.base.region_name

    def client(self, name: str, **kwargs):
        kwargs.update(self.credentials)
        with SharedSession._lock:
            return self.base.client(name, **kwargs)


def caller_account(session, cfg) -> str:
    return session.client("sts", config=cfg).get_caller_identity()["Account"]


def resolve_accounts(*, profiles: list[str], accounts: list[str], org: bool, role_name: str | None,
                     external_id: str | None, counter: CallCounter | None,
                     max_attempts: int = DEFAULT_MAX_ATTEMPTS, base_region: str | None = None):
    """The accounts to scan, the base session, and errors met while listing them.

    Raises ``AccountError`` when the base credentials themselves do not work (nothing to scan).
    """
    cfg = client_config(max_attempts, base_region)
    errors: list[dict[str, Any]] = []
    if profiles:
        out = []
        for name in profiles:
            try:
                session = _new_session(counter, profile_name=name)
                acct = caller_account(session, cfg)
            except Exception as exc:  # botocore ProfileNotFound, NoCredentialsError, ClientError
                errors.append({"account": None, "profile": name, "region": None, "service": "sts",
                               "operation": "GetCallerIdentity", **error_info(exc)})
                continue
            out.append(Account(acct, name, partial(SharedSession, session)))
        base = out[0].session() if out else None
        return out, base, errors
    try:
        base = _new_session(counter)
        me = caller_account(base, cfg)
    except Exception as exc:
        raise AccountError({"account": None, "region": None, "service": "sts", "operation": "GetCallerIdentity",
                            **error_info(exc)}) from None
    if org:
        listed: list[tuple] = []
        try:
            orgs = base.client("organizations", config=cfg)
            for page in orgs.get_paginator("list_accounts").paginate():
                for a in page.get("Accounts", []):
                    if a.get("Status", "ACTIVE") == "ACTIVE":
                        listed.append((a["Id"], a.get("Name") or a["Id"]))
        except Exception as exc:
            raise AccountError({"account": me, "region": None, "service": "organizations",
                                "operation": "ListAccounts", **error_info(exc)}) from None
        ids = listed
    elif accounts:
        ids = [(a, a) for a in accounts]
    else:
        return [Account(me, me, lambda: SharedSession(base))], base, errors
    out = []
    for acct, name in ids:
        if acct == me:
            out.append(Account(acct, name, lambda: SharedSession(base)))
        else:
            out.append(Account(acct, name, _assumer(base, acct, role_name, external_id, counter, cfg)))
    return out, base, errors


def _assumer(base, account_id: str, role_name: str | None, external_id: str | None,
             counter: CallCounter | None, cfg):
    def make():
        if not role_name:
            raise AccountError({"account": account_id, "region": None, "service": "sts", "operation": "AssumeRole",
                                "code": "NoRoleName",
                                "message": "another account needs --role-name to assume a role in it"})
        arn = f"arn:aws:iam::{account_id}:role/{role_name}"
        kwargs = {"RoleArn": arn, "RoleSessionName": "tagguard-drift", "DurationSeconds": 3600}
        if external_id:
            kwargs["ExternalId"] = external_id
        try:
            with SharedSession._lock:
                sts = base.client("sts", config=cfg)
            creds = sts.assume_role(**kwargs)["Credentials"]
        except Exception as exc:
            raise AccountError({"account": account_id, "region": None, "service": "sts", "operation": "AssumeRole",
                                "role_arn": arn, **error_info(exc)}) from None
        return SharedSession(base, {"aws_access_key_id": creds["AccessKeyId"],
                                    "aws_secret_access_key": creds["SecretAccessKey"],
                                    "aws_session_token": creds["SessionToken"]})
    return make


def resolve_regions(spec: str | None, base, cfg) -> list[str]:
    """``us-east-1,us-west-2`` as given; ``all`` = every region enabled for the base account."""
    if spec and spec.strip().lower() != "all":
        return [r.strip() for r in spec.split(",") if r.strip()]
    if not spec:
        region = base.region_name if base is not None else None
        return [region or "us-east-1"]
    ec2 = base.client("ec2", config=cfg, region_name=base.region_name or "us-east-1")
    resp = ec2.describe_regions(AllRegions=False)
    return sorted(r["RegionName"] for r in resp.get("Regions", [])
                  if r.get("OptInStatus", "opt-in-not-required") in ("opt-in-not-required", "opted-in"))
